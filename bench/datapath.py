"""Compile and reconcile at scale; prints figures, asserts nothing.

    sudo .venv/bin/python -m bench.datapath [--pairs 10000] [--kernel-pairs 2000]

1. Compiles an intent of ``--pairs`` protect pairs for the hub (target: under 1 s),
   against the baseline of merely building the same number of intent objects.
2. In a fresh namespace, applies ``--kernel-pairs`` pairs (five kernel policies
   each), then changes one policy and prints how many kernel operations that apply
   made (target: a handful) and the plan+apply time, against the full first apply.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import time
import tracemalloc
import uuid

from bench.intents import hub_and_pairs
from datapath.compiler import compile_gateway
from datapath.reconcile import apply, diff


def best_of(n, fn):
    best = float("inf")
    for _ in range(n):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def bench_compile(pairs: int) -> None:
    build_s, intent = best_of(3, lambda: hub_and_pairs(pairs))
    compile_s, plan = best_of(3, lambda: compile_gateway(intent, "hub"))
    tracemalloc.start()
    compile_gateway(intent, "hub")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"compile: {pairs} pairs -> {len(plan.policies)} kernel policies in "
          f"{compile_s:.3f} s (target < 1 s); building the intent itself: "
          f"{build_s:.3f} s; ratio {compile_s / build_s:.1f}x; peak {peak / 2**20:.0f} MiB")


def bench_change_one(pairs: int) -> None:
    if os.geteuid() != 0:
        print("change-one: skipped, needs root for a network namespace")
        return
    from datapath.kernel import Kernel

    ns = f"cygbench{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        intent = hub_and_pairs(pairs)
        plan = compile_gateway(intent, "hub")
        with Kernel(netns=ns) as kernel:
            started = time.perf_counter()
            first = apply(kernel, plan)
            full_s = time.perf_counter() - started
            assert first.ok, first.summary()

            changed = list(intent.policies)
            changed[7] = dataclasses.replace(changed[7], action="bypass")
            intent2 = dataclasses.replace(intent, policies=tuple(changed))
            started = time.perf_counter()
            plan2 = compile_gateway(intent2, "hub")
            compile_s = time.perf_counter() - started
            started = time.perf_counter()
            second = apply(kernel, plan2)
            change_s = time.perf_counter() - started
            assert second.ok, second.summary()
            idle_s, _ = best_of(1, lambda: diff(kernel, plan2))
        print(f"apply: {len(plan.policies)} kernel policies installed from scratch in "
              f"{full_s:.3f} s")
        print(f"change one policy in that datapath: {second.applied} kernel operations "
              f"({second.plan.counts()}), compile {compile_s:.3f} s + plan and apply "
              f"{change_s:.3f} s; a no-change plan takes {idle_s:.3f} s")
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=10_000)
    parser.add_argument("--kernel-pairs", type=int, default=2_000)
    args = parser.parse_args()
    bench_compile(args.pairs)
    bench_change_one(args.kernel_pairs)


if __name__ == "__main__":
    main()
