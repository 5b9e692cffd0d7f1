"""load_intent and ensure_tunnels: what the datapath compiler is handed."""

from __future__ import annotations

import ipaddress

from sqlalchemy import select

from app.db import read_session, write_session
from app.models import Gateway, SaKey, Tunnel
from app.services.intent import load_intent
from app.services.tunnels import ensure_tunnels
from datapath.intent import PortRange, tunnel_pairs
from tests.app.helpers import EXAMPLES, load_freeswan


def test_load_intent_resolves_ends_to_cidrs_and_gateways(client, engine):
    load_freeswan(client)
    client.post(
        "/api/v1/policies",
        json={
            "name": "ssh",
            "between": ["10.1.0.7/32", "t"],
            "action": "drop",
            "protocol": "tcp",
            "ports": "22",
        },
    )
    with read_session(engine) as session:
        intent = load_intent(session)
    assert intent.revision == 2
    assert [g.name for g in intent.gateways] == ["x", "y"]
    policies = {p.name: p for p in intent.policies}
    su = policies["s-u"]
    assert (su.a, su.b) == (
        ipaddress.ip_network("10.1.0.0/24"),
        ipaddress.ip_network("10.3.0.0/24"),
    )
    assert (su.a_gateway, su.b_gateway, su.action) == ("x", "y", "protect")
    ssh = policies["ssh"]
    assert ssh.a == ipaddress.ip_network("10.1.0.7/32") and ssh.a_gateway == "x"
    assert (ssh.protocol, ssh.ports) == (6, PortRange(22, 22))
    assert intent.tunnel("x", "y").reqid == 1


def test_every_protecting_pair_has_a_tunnel(client, engine):
    text = (EXAMPLES / "hub-and-branches.yaml").read_text()
    client.put(
        "/api/v1/intent", content=text, headers={"Content-Type": "application/yaml"}
    )
    with read_session(engine) as session:
        intent = load_intent(session)
    assert {t.gateways for t in intent.tunnels} == tunnel_pairs(intent)
    assert len({t.reqid for t in intent.tunnels}) == len(intent.tunnels)
    assert len({t.if_id for t in intent.tunnels}) == len(intent.tunnels)


def test_tunnel_of_a_pair_that_stops_protecting_is_dropped(client, engine):
    load_freeswan(client)
    client.delete("/api/v1/policies/s-u")
    with read_session(engine) as session:
        assert load_intent(session).tunnels == ()


def test_ensure_tunnels_keeps_numbers_and_is_idempotent(client, engine):
    load_freeswan(client)
    with write_session(engine) as session:
        first = ensure_tunnels(session)
        second = ensure_tunnels(session)
    assert first == second and len(first) == 1


def test_load_intent_hands_over_decrypted_keys(client, engine):
    load_freeswan(client)
    with write_session(engine) as session:
        tunnel = session.scalars(select(Tunnel)).one()
        x, y = (
            session.scalars(select(Gateway).where(Gateway.name == n)).one()
            for n in ("x", "y")
        )
        session.add(
            SaKey(
                tunnel=tunnel,
                src_gateway=x,
                dst_gateway=y,
                spi=0x2000,
                key=b"k" * 20,
                generation=3,
                phase="inbound",
            )
        )
    with read_session(engine) as session:
        (key,) = load_intent(session).keys
    assert (key.src, key.dst, key.spi, key.key) == ("x", "y", 0x2000, b"k" * 20)
    assert (key.generation, key.phase, key.mode) == (3, "inbound", "tunnel")
