"""Install 10,000 XFRM policies with Cygnet's driver and with ``ip -batch``.

    sudo .venv/bin/python -m bench.install_policies [--pairs 5000] [--rounds 3]

``--pairs`` subnet pairs, each an ``out`` and an ``in`` policy; every other
pair requires an ESP template, the rest are allow policies.  Cygnet installs
them through ``Kernel.batch`` into one fresh namespace; ``ip -n NS -batch FILE``
installs the same policies, written as ``xfrm policy add ...`` lines, into
another.  Each round flushes both namespaces first; the figures are the best
of the rounds, both timings including the open of the namespace's socket
(Kernel) or the start of the process (ip).  Target: Cygnet within 1.5x of ip.

Cygnet's peak memory is measured in a separate round with tracemalloc on
(it slows Python down, so that round is not timed), plus the growth of the
process's maximum resident size over the whole run.  Listing the policies
back (``Kernel.policies()`` against ``ip xfrm policy list``) is timed too.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid

from datapath.kernel import Kernel
from datapath.objects import Selector, Template, XfrmPolicy

GATEWAY_A = ipaddress.ip_address("192.0.2.1")
GATEWAY_B = ipaddress.ip_address("192.0.2.2")
TARGET_RATIO = 1.5


def subnet_pairs(count: int):
    for i in range(count):
        left = ipaddress.ip_network(f"10.{i // 250}.{i % 250}.0/24")
        right = ipaddress.ip_network(
            f"172.{16 + i // 250 % 16}.{i % 250}.{i // 4000 * 64}/26"
        )
        yield i, left, right


def build(pairs: int) -> tuple[list[XfrmPolicy], list[str]]:
    """The policies, and the same as ``ip -batch`` lines."""
    policies, lines = [], []
    for i, left, right in subnet_pairs(pairs):
        protect = i % 2 == 0
        for direction, src, dst, outer in (
            ("out", left, right, (GATEWAY_A, GATEWAY_B)),
            ("in", right, left, (GATEWAY_B, GATEWAY_A)),
        ):
            templates = (Template(outer[1], outer[0], reqid=1),) if protect else ()
            policies.append(
                XfrmPolicy(direction, Selector(src, dst), "allow", 100, templates)
            )
            line = f"xfrm policy add src {src} dst {dst} dir {direction} priority 100"
            if protect:
                line += (
                    f" tmpl src {outer[0]} dst {outer[1]} proto esp reqid 1 mode tunnel"
                )
            else:
                line += " action allow"
            lines.append(line)
    return policies, lines


def ip(*args: str) -> str:
    return subprocess.run(
        ["ip", *args], check=True, capture_output=True, text=True
    ).stdout


def policy_count(ns: str) -> int:
    # "SPD IN  5000 OUT 5000 FWD 0"
    words = ip("-n", ns, "xfrm", "policy", "count").split()
    return sum(
        int(words[i + 1])
        for i, word in enumerate(words)
        if word in ("IN", "OUT", "FWD")
    )


def run_cygnet(ns: str, policies: list[XfrmPolicy]) -> float:
    started = time.perf_counter()
    with Kernel(netns=ns) as kernel:
        errors = kernel.batch([("add", policy) for policy in policies])
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"Cygnet: {len(errors)} failures, first: {errors[0]}")
    return elapsed


def run_ip(ns: str, batch_file: str) -> float:
    started = time.perf_counter()
    subprocess.run(["ip", "-n", ns, "-batch", batch_file], check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if os.geteuid() != 0:
        print("install_policies: skipped, needs root to create network namespaces")
        return

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    policies, lines = build(args.pairs)
    total = len(policies)
    tag = uuid.uuid4().hex[:6]
    ns_cygnet, ns_ip = f"cygbench-c{tag}", f"cygbench-i{tag}"
    with tempfile.NamedTemporaryFile("w", suffix=".batch", delete=False) as batch:
        batch.write("\n".join(lines) + "\n")
    ip("netns", "add", ns_cygnet)
    ip("netns", "add", ns_ip)
    try:
        times: dict[str, list[float]] = {"cygnet": [], "ip": []}
        for _ in range(args.rounds):
            for ns in (ns_cygnet, ns_ip):
                ip("-n", ns, "xfrm", "policy", "flush")
            times["cygnet"].append(run_cygnet(ns_cygnet, policies))
            times["ip"].append(run_ip(ns_ip, batch.name))
            counts = policy_count(ns_cygnet), policy_count(ns_ip)
            if counts != (total, total):
                raise SystemExit(f"expected {total} policies each, found {counts}")

        # Reading them back.
        started = time.perf_counter()
        with Kernel(netns=ns_cygnet) as kernel:
            listed = kernel.policies()
        list_cygnet = time.perf_counter() - started
        started = time.perf_counter()
        ip("-n", ns_ip, "xfrm", "policy", "list")
        list_ip = time.perf_counter() - started
        assert len(listed) == total and all(p.owned for p in listed)

        # Memory, in a round of its own.
        ip("-n", ns_cygnet, "xfrm", "policy", "flush")
        tracemalloc.start()
        run_cygnet(ns_cygnet, policies)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        ip("netns", "del", ns_cygnet)
        ip("netns", "del", ns_ip)
        os.unlink(batch.name)
    rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before

    cygnet, baseline = min(times["cygnet"]), min(times["ip"])
    ratio = cygnet / baseline
    rounds = lambda name: ", ".join(f"{t:.3f}" for t in times[name])  # noqa: E731
    print(
        f"install {total} policies ({args.pairs} pairs, half with ESP templates), "
        f"best of {args.rounds}:"
    )
    print(f"  Cygnet Kernel.batch  {cygnet:.3f} s   (rounds: {rounds('cygnet')})")
    print(f"  ip -batch            {baseline:.3f} s   (rounds: {rounds('ip')})")
    verdict = "within" if ratio <= TARGET_RATIO else "OVER"
    print(f"  ratio {ratio:.2f}x: {verdict} the {TARGET_RATIO}x target")
    print(
        f"  Cygnet peak traced memory during the batch: {peak / 2**20:.1f} MiB; "
        f"max RSS grew {rss_growth / 1024:.1f} MiB over the run "
        f"(policy objects included)"
    )
    print(
        f"list {total} policies: Kernel.policies() {list_cygnet:.3f} s, "
        f"ip xfrm policy list {list_ip:.3f} s"
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
