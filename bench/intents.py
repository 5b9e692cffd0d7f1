"""Large synthetic intents for the benchmarks: a hub and many branch pairs."""

import ipaddress

from datapath.intent import Gateway, Intent, Policy, Subnet, allocate_tunnels, tunnel_pairs


def hub_and_pairs(pairs: int, peers: int = 50) -> Intent:
    """``pairs`` protect policies between /24s behind ``hub`` and ``peers`` branches."""
    hub = Gateway("hub", ipaddress.ip_address("192.0.2.1"))
    branches = [Gateway(f"b{n}", ipaddress.ip_address(f"198.51.{n // 250}.{n % 250 + 1}"))
                for n in range(peers)]
    subnets = [Subnet("hq", ipaddress.ip_network("10.0.0.0/9"), "hub")]
    subnets += [Subnet(f"net-b{n}", ipaddress.ip_network(f"10.{128 + n}.0.0/16"), f"b{n}")
                for n in range(peers)]
    policies = []
    for i in range(pairs):
        n = i % peers
        local = ipaddress.ip_network(f"10.{i // 256 % 128}.{i % 256}.0/24")
        remote = ipaddress.ip_network(f"10.{128 + n}.{i // peers % 256}.0/24")
        policies.append(Policy(f"p{i}", local, remote, "hub", f"b{n}", "protect"))
    draft = Intent((hub, *branches), tuple(subnets), tuple(policies))
    return Intent(draft.gateways, draft.subnets, draft.policies,
                  allocate_tunnels((), tunnel_pairs(draft)))
