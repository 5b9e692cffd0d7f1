"""Console render times with 1,000 gateways and 10,000 policies.

    .venv/bin/python -m bench.console

Fills a fresh SQLite database (rows written directly, not validated one by one),
logs in and times, in one run: the dashboard, the policy list (first page of
100 trees, nesting and flags computed over all 10,000) both right after a change
of intent and from the tree cached for the revision, and as baselines the login
page (an almost empty render) and the JSON API's lists.  Times are medians of
server-side request handling through the in-process TestClient.  The two
phases of a first view, reading the intent and analysing the policies, are
also timed on their own, as that is where a change to either shows.
"""

from __future__ import annotations

import gc
import os
import re
import statistics
import tempfile
import time

GATEWAYS, SUBNETS_EACH, POLICIES = 1000, 2, 10_000


def fill(engine) -> None:
    from app.auth import accounts
    from app.db import write_session
    from app.models import Gateway, Policy, Subnet

    with write_session(engine) as session:
        gateways = [
            Gateway(
                name=f"gw{i}", address=f"198.18.{i // 250}.{i % 250 + 1}", position=i
            )
            for i in range(GATEWAYS)
        ]
        session.add_all(gateways)
        session.flush()
        subnets = []
        for i, gw in enumerate(gateways):
            for j in range(SUBNETS_EACH):
                n = i * SUBNETS_EACH + j
                subnets.append(
                    Subnet(
                        name=f"net{n}",
                        cidr=f"10.{n // 256}.{n % 256}.0/24",
                        gateway_id=gw.id,
                        position=n,
                    )
                )
        session.add_all(subnets)
        session.flush()
        for k in range(POLICIES):
            a = subnets[k % len(subnets)]
            b = subnets[(k * 7 + 3 + (k // len(subnets)) * 11) % len(subnets)]
            if a.gateway_id == b.gateway_id:
                b = subnets[(subnets.index(a) + SUBNETS_EACH) % len(subnets)]
            session.add(
                Policy(
                    name=f"p{k}",
                    a_subnet_id=a.id,
                    b_subnet_id=b.id,
                    action="protect" if k % 5 else "bypass",
                    position=k,
                )
            )
        accounts.create_user(session, "bench", "admin", "bench password 1", "bench")
        _, token = accounts.create_token(session, "bench", "bench")
    return token


def timed(client, url: str, runs: int = 7, **kwargs) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(url, **kwargs)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(times)


def first_views(client, token: str, runs: int = 5) -> float:
    """Median time of the policy list right after a change (a policy renamed)."""
    headers = {"Authorization": f"Bearer {token}"}
    times = []
    for n in range(runs):
        old, new = ("p1", "p1x") if n % 2 == 0 else ("p1x", "p1")
        changed = client.patch(
            f"/api/v1/policies/{old}", json={"name": new}, headers=headers
        )
        assert changed.status_code == 200, changed.text
        started = time.perf_counter()
        response = client.get("/policies")
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200
    return statistics.median(times)


def count_tunnels(engine) -> int:
    from sqlalchemy import func, select

    from app.db import read_session
    from app.models import Tunnel

    with read_session(engine) as session:
        return session.scalar(select(func.count()).select_from(Tunnel))


def phases(engine, runs: int = 5) -> tuple[float, float]:
    """Median times of reading the whole intent and of building the policy tree."""
    from app.db import read_session
    from app.services.snapshot import load_document
    from app.web.policy_tree import build_tree

    reads, trees = [], []
    for _ in range(runs):
        started = time.perf_counter()
        with read_session(engine) as session:
            doc = load_document(session)
        read = time.perf_counter()
        build_tree(doc)
        reads.append((read - started) * 1000)
        trees.append((time.perf_counter() - read) * 1000)
    return statistics.median(reads), statistics.median(trees)


def main() -> None:
    folder = tempfile.mkdtemp(prefix="cygnet-bench-")
    os.environ["CYGNET_DATA_DIR"] = folder
    os.environ.pop("CYGNET_GATEWAY", None)
    from fastapi.testclient import TestClient

    from app import migrate
    from app.db import make_engine
    from app.main import create_app

    engine = make_engine(f"sqlite:///{folder}/cygnet.db")
    migrate.upgrade(engine)
    started = time.perf_counter()
    token = fill(engine)
    print(
        f"filled {GATEWAYS} gateways, {GATEWAYS * SUBNETS_EACH} subnets, "
        f"{POLICIES} policies in {time.perf_counter() - started:.1f} s"
    )
    application = create_app(engine)
    gc.freeze()  # as cygnet serve does once the application is built
    with TestClient(application) as client:
        page = client.get("/login")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        client.post(
            "/login",
            data={"csrf": csrf, "name": "bench", "password": "bench password 1"},
        )
        bearer = {"headers": {"Authorization": f"Bearer {token}"}}
        rows = [
            ("baseline: login page (near-empty render)", "/login", {}),
            (
                "baseline: JSON API, 1,000 gateways",
                "/api/v1/gateways?limit=1000",
                bearer,
            ),
            (
                "baseline: JSON API, 1,000 policies",
                "/api/v1/policies?limit=1000",
                bearer,
            ),
            ("dashboard (1,000 gateways)", "/", {}),
            ("policy list (page 1 of 10,000, tree cached)", "/policies", {}),
        ]
        print(
            f"{'dashboard before any tunnel exists':<50} "
            f"{timed(client, '/'):8.1f} ms (median of 7)"
        )
        started = time.perf_counter()
        client.get("/policies?page=2")
        print(
            f"{'policy list, very first view (cold process)':<50} "
            f"{(time.perf_counter() - started) * 1000:8.1f} ms"
        )
        print(
            f"{'policy list, first view after a change':<50} "
            f"{first_views(client, token):8.1f} ms (median of 5)"
        )
        # The changes above allocated the tunnels the protect policies need.
        rows[3] = (
            f"dashboard (1,000 gateways, {count_tunnels(engine):,} tunnels)",
            "/",
            {},
        )
        for label, url, kwargs in rows:
            print(f"{label:<50} {timed(client, url, **kwargs):8.1f} ms (median of 7)")
        read, tree = phases(engine)
        print(
            f"{'  of a first view: reading the intent':<50} {read:8.1f} ms (median of 5)"
        )
        print(
            f"{'  of a first view: policy tree analysis':<50} {tree:8.1f} ms (median of 5)"
        )


if __name__ == "__main__":
    main()
