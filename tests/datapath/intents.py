"""Small intents for compiler and reconciler tests, built as the app would load them."""

import ipaddress

from datapath.intent import Gateway, Intent, Policy, PortRange, Subnet, allocate_tunnels, tunnel_pairs

net = ipaddress.ip_network


def freeswan(*, route_based: bool = False, reverse: bool = False, keys=()) -> Intent:
    """S behind X; T and U behind Y; U-S encrypted, T-S in clear (FreeS/WAN's BUGS)."""
    gateways = (
        Gateway("x", ipaddress.ip_address("192.0.2.1"), route_based=route_based),
        Gateway("y", ipaddress.ip_address("192.0.2.2"), route_based=route_based),
    )
    subnets = (
        Subnet("s", net("10.1.0.0/24"), "x"),
        Subnet("t", net("10.2.0.0/24"), "y"),
        Subnet("u", net("10.3.0.0/24"), "y"),
    )
    policies = [
        Policy("s-u", net("10.1.0.0/24"), net("10.3.0.0/24"), "x", "y", "protect"),
        Policy("s-t", net("10.1.0.0/24"), net("10.2.0.0/24"), "x", "y", "bypass"),
    ]
    if reverse:
        policies.reverse()
    return build(gateways, subnets, policies, keys)


def build(gateways, subnets, policies, keys=()) -> Intent:
    draft = Intent(tuple(gateways), tuple(subnets), tuple(policies))
    tunnels = allocate_tunnels((), tunnel_pairs(draft))
    return Intent(tuple(gateways), tuple(subnets), tuple(policies), tunnels, tuple(keys))


def broad_with_exception(order: str = "broad-first") -> Intent:
    """Protect 10.0.0.0/16 <-> 10.8.0.0/16 except 10.0.5.0/24, which bypasses."""
    gateways = (
        Gateway("hub", ipaddress.ip_address("198.51.100.1")),
        Gateway("branch", ipaddress.ip_address("198.51.100.2")),
    )
    subnets = (
        Subnet("hq", net("10.0.0.0/16"), "hub"),
        Subnet("br", net("10.8.0.0/16"), "branch"),
    )
    broad = Policy("all", net("10.0.0.0/16"), net("10.8.0.0/16"), "hub", "branch", "protect")
    hole = Policy("lab", net("10.0.5.0/24"), net("10.8.0.0/16"), "hub", "branch", "bypass")
    ssh = Policy("ssh", net("10.0.0.0/16"), net("10.8.0.0/16"), "hub", "branch", "drop",
                 protocol=6, ports=PortRange(22, 22))
    policies = [broad, hole, ssh] if order == "broad-first" else [ssh, hole, broad]
    return build(gateways, subnets, policies)


def broad_protect_on_freeswan(bypass_first: bool) -> Intent:
    """Protect S <-> 10.2.0.0/15 (T and U) broadly, but let S <-> T through in clear."""
    base = freeswan()
    subnets = (*base.subnets, Subnet("y-all", net("10.2.0.0/15"), "y"))
    broad = Policy("s-ybig", net("10.1.0.0/24"), net("10.2.0.0/15"), "x", "y", "protect")
    hole = Policy("s-t", net("10.1.0.0/24"), net("10.2.0.0/24"), "x", "y", "bypass")
    return build(base.gateways, subnets, [hole, broad] if bypass_first else [broad, hole])
