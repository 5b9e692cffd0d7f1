"""Cygnet's datapath end to end for the guest scenarios.

Scenarios build :class:`datapath.intent.Intent` values for the topology, with
manually keyed SAs (keys from ``os.urandom``), and apply each gateway's slice
in its namespace exactly as the service does: ``compile_gateway`` then
``reconcile.apply`` through :class:`datapath.kernel.Kernel`.

:class:`Keyring` holds the manual keys and walks a make-before-break rotation
through the phases the intent defines (inbound, active, retiring).
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass, field, replace
from typing import Self

from datapath import reconcile
from datapath.compiler import compile_gateway
from datapath.intent import Gateway, Intent, Policy, SAKey, Subnet, Tunnel
from datapath.kernel import Kernel

from .topology import ADDRESS, S_NET, T_NET, U_NET, Topology

SUBNETS = {"s": (S_NET, "x"), "t": (T_NET, "y"), "u": (U_NET, "y")}


def gateways(route_based: bool = False) -> tuple:
    return (
        Gateway("x", ADDRESS["x"], route_based=route_based),
        Gateway("y", ADDRESS["y"], route_based=route_based),
    )


def subnets() -> tuple:
    return tuple(Subnet(name, net, gw) for name, (net, gw) in SUBNETS.items())


def policy(
    name: str,
    a,
    b,
    a_gw: str,
    b_gw: str,
    action: str = "protect",
    mode: str = "tunnel",
    **kwargs,
) -> Policy:
    return Policy(
        name,
        ipaddress.ip_network(a),
        ipaddress.ip_network(b),
        a_gw,
        b_gw,
        action,
        mode=mode,
        keying="manual",
        **kwargs,
    )


def between(
    name: str, left: str, right: str, action: str = "protect", mode: str = "tunnel"
) -> Policy:
    """A policy between two of the topology's subnets ("s", "t", "u")."""
    (a, a_gw), (b, b_gw) = SUBNETS[left], SUBNETS[right]
    return policy(name, a, b, a_gw, b_gw, action, mode)


@dataclass
class Keyring:
    """Manual keys for ordered gateway pairs, in each SA mode, and their rotation.

    ``rotate_begin`` adds the next generation as ``inbound`` (receivers install
    it), ``rotate_switch`` makes it ``active`` and the old one ``retiring``
    (senders move to it, receivers still take the old), ``rotate_end`` drops the
    retiring key.  Applying both gateways after each step never leaves a sender
    with a key its receiver lacks.
    """

    pairs: list[tuple[str, str]]
    modes: tuple[str, ...] = ("tunnel",)
    keys: list[SAKey] = field(default_factory=list)
    _next_spi: int = 0x1000

    def __post_init__(self) -> None:
        for src, dst in self.pairs:
            for mode in self.modes:
                self.keys.append(self._new(src, dst, 1, "active", mode))

    @classmethod
    def both_ways(cls, *pairs: tuple[str, str], modes=("tunnel",)) -> Keyring:
        ordered = []
        for a, b in pairs:
            ordered += [(a, b), (b, a)]
        return cls(ordered, tuple(modes))

    def _new(self, src: str, dst: str, generation: int, phase: str, mode: str) -> SAKey:
        self._next_spi += 1
        return SAKey(
            src, dst, self._next_spi, os.urandom(36), generation, phase, mode=mode
        )

    def rotate_begin(self) -> None:
        for src, dst in self.pairs:
            for mode in self.modes:
                current = max(
                    k.generation
                    for k in self.keys
                    if (k.src, k.dst, k.mode) == (src, dst, mode)
                )
                self.keys.append(self._new(src, dst, current + 1, "inbound", mode))

    def rotate_switch(self) -> None:
        step = {"active": "retiring", "inbound": "active"}
        self.keys = [replace(k, phase=step.get(k.phase, k.phase)) for k in self.keys]

    def rotate_end(self) -> None:
        self.keys = [k for k in self.keys if k.phase != "retiring"]


def tunnels_for(pairs) -> tuple:
    """Tunnel numbers for the gateway pairs: reqid and if_id count from 1."""
    found = []
    for number, pair in enumerate(sorted({frozenset(p) for p in pairs}, key=sorted), 1):
        found.append(Tunnel(pair, reqid=number, if_id=number))
    return tuple(found)


def intent(
    policies,
    keyring: Keyring | None = None,
    *,
    route_based: bool = False,
    revision: int = 1,
    extra_gateways: tuple = (),
    extra_subnets: tuple = (),
) -> Intent:
    """The intent for ``policies`` between x, y and any extra gateways."""
    protected = {(p.a_gateway, p.b_gateway) for p in policies if p.action == "protect"}
    tunnels = tunnels_for(protected)
    # Keys belong to tunnels: a pair with no protect policy has none to use.
    paired = {t.gateways for t in tunnels}
    keys = (
        [k for k in keyring.keys if frozenset((k.src, k.dst)) in paired]
        if keyring
        else []
    )
    return Intent(
        gateways=gateways(route_based) + tuple(extra_gateways),
        subnets=subnets() + tuple(extra_subnets),
        policies=tuple(policies),
        tunnels=tunnels,
        keys=tuple(keys),
        revision=revision,
    )


class Gateways:
    """One :class:`Kernel` per gateway namespace, kept open for the test."""

    def __init__(self, topo: Topology, names=("x", "y")):
        self.topo = topo
        self.kernels = {name: Kernel(netns=topo.ns(name)) for name in names}

    def apply(self, wanted: Intent, *names: str) -> dict:
        """Compile and apply each named gateway (all by default); fail loudly."""
        results = {}
        for name in names or tuple(self.kernels):
            compiled = compile_gateway(wanted, name)
            result = reconcile.apply(self.kernels[name], compiled)
            if not result.ok:
                raise AssertionError(f"apply on {name} failed: {result.summary()}")
            results[name] = result
        return results

    def guard(self, wanted: Intent, *names: str) -> dict:
        results = {}
        for name in names or tuple(self.kernels):
            result = reconcile.guard(self.kernels[name], compile_gateway(wanted, name))
            if not result.ok:
                raise AssertionError(f"guard on {name} failed: {result.summary()}")
            results[name] = result
        return results

    def close(self) -> None:
        for kernel in self.kernels.values():
            kernel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def owned_counts(kernel: Kernel) -> dict[str, int]:
    """How many objects of each kind Cygnet owns in ``kernel``'s namespace."""
    return {
        "policies": sum(p.owned for p in kernel.policies()),
        "states": sum(s.owned for s in kernel.states()),
        "interfaces": sum(i.owned for i in kernel.interfaces()),
        "routes": len(kernel.routes()),
        "rules": len(kernel.rules()),
    }
