"""A compiled plan: every kernel object one gateway should have, and its JSON form.

The JSON form is what ``cygnet guard`` reads at boot, before the database may be
reachable.  It never holds key material: :meth:`CompiledPlan.to_json` leaves the
SAs out, so the file can sit on disk without becoming a secret.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field

from datapath.objects import (
    KernelObject,
    Route,
    Rule,
    Selector,
    Template,
    XfrmInterface,
    XfrmPolicy,
    XfrmState,
)

FORMAT_VERSION = 1


@dataclass(frozen=True)
class CompiledPlan:
    gateway: str
    revision: int
    policies: tuple[XfrmPolicy, ...] = ()
    states: tuple[XfrmState, ...] = ()
    interfaces: tuple[XfrmInterface, ...] = ()
    routes: tuple[Route, ...] = ()
    rules: tuple[Rule, ...] = ()
    # Intent policy name -> the priority its kernel entries carry, for tracing.
    priorities: dict[str, int] = field(default_factory=dict, compare=False)

    def objects(self) -> list[KernelObject]:
        return [
            *self.interfaces,
            *self.policies,
            *self.states,
            *self.routes,
            *self.rules,
        ]

    def without_states(self) -> "CompiledPlan":
        return CompiledPlan(
            self.gateway,
            self.revision,
            self.policies,
            (),
            self.interfaces,
            self.routes,
            self.rules,
            dict(self.priorities),
        )

    def to_json(self) -> str:
        """The plan without its SAs, as JSON (see the module docstring)."""
        return json.dumps(
            {
                "format": FORMAT_VERSION,
                "gateway": self.gateway,
                "revision": self.revision,
                "policies": [_policy_to_dict(p) for p in self.policies],
                "interfaces": [
                    {"name": i.name, "if_id": i.if_id, "origin": i.origin}
                    for i in self.interfaces
                ],
                "routes": [
                    {
                        "dst": str(r.dst),
                        "dev": r.dev,
                        "table": r.table,
                        "via": str(r.via) if r.via else None,
                        "origin": r.origin,
                    }
                    for r in self.routes
                ],
                "rules": [
                    {
                        "src": str(r.src),
                        "dst": str(r.dst),
                        "table": r.table,
                        "priority": r.priority,
                        "action": r.action,
                        "origin": r.origin,
                    }
                    for r in self.rules
                ],
                "priorities": self.priorities,
            },
            indent=1,
        )

    @classmethod
    def from_json(cls, text: str) -> "CompiledPlan":
        data = json.loads(text)
        if data.get("format") != FORMAT_VERSION:
            raise ValueError(
                f"plan file format {data.get('format')!r} is not {FORMAT_VERSION}: "
                "run 'cygnet apply' once to write it again"
            )
        net = ipaddress.ip_network
        return cls(
            gateway=data["gateway"],
            revision=data["revision"],
            policies=tuple(_policy_from_dict(p) for p in data["policies"]),
            interfaces=tuple(
                XfrmInterface(i["name"], i["if_id"], origin=i["origin"])
                for i in data["interfaces"]
            ),
            routes=tuple(
                Route(
                    net(r["dst"]),
                    r["dev"],
                    r["table"],
                    ipaddress.ip_address(r["via"]) if r.get("via") else None,
                    origin=r["origin"],
                )
                for r in data["routes"]
            ),
            rules=tuple(
                Rule(
                    net(r["src"]),
                    net(r["dst"]),
                    r["table"],
                    r["priority"],
                    r["action"],
                    origin=r["origin"],
                )
                for r in data["rules"]
            ),
            priorities=dict(data.get("priorities", {})),
        )


def _policy_to_dict(policy: XfrmPolicy) -> dict:
    sel = policy.selector
    return {
        "direction": policy.direction,
        "selector": {
            "src": str(sel.src),
            "dst": str(sel.dst),
            "proto": sel.proto,
            "sport": sel.sport,
            "sport_mask": sel.sport_mask,
            "dport": sel.dport,
            "dport_mask": sel.dport_mask,
        },
        "action": policy.action,
        "priority": policy.priority,
        "templates": [
            {
                "src": str(t.src),
                "dst": str(t.dst),
                "reqid": t.reqid,
                "mode": t.mode,
                "proto": t.proto,
                "spi": t.spi,
                "optional": t.optional,
            }
            for t in policy.templates
        ],
        "if_id": policy.if_id,
        "origin": policy.origin,
    }


def _policy_from_dict(data: dict) -> XfrmPolicy:
    sel = data["selector"]
    addr = ipaddress.ip_address
    return XfrmPolicy(
        direction=data["direction"],
        selector=Selector(
            ipaddress.ip_network(sel["src"]),
            ipaddress.ip_network(sel["dst"]),
            sel["proto"],
            sel["sport"],
            sel["sport_mask"],
            sel["dport"],
            sel["dport_mask"],
        ),
        action=data["action"],
        priority=data["priority"],
        templates=tuple(
            Template(
                dst=addr(t["dst"]),
                src=addr(t["src"]),
                reqid=t["reqid"],
                mode=t["mode"],
                proto=t["proto"],
                spi=t["spi"],
                optional=t["optional"],
            )
            for t in data["templates"]
        ),
        if_id=data["if_id"],
        origin=data["origin"],
    )

