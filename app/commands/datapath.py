"""``cygnet plan | apply | guard | trace | status | rekey``: one gateway's datapath.

These verbs run at boot and inside slow emulated machines, so they import
nothing from the web stack.  Each takes ``--gateway NAME`` (default
``CYGNET_GATEWAY``) and ``--netns NS`` to work on a named network namespace
instead of the process's own.

Exit status: 0 when done, 1 when the kernel refused part of an apply or guard
(the datapath stays closed), 2 for a mistake in what was asked.
"""

from __future__ import annotations

import argparse
import json
import sys

EXIT_KERNEL = 1


def _verb(subparsers, name: str, help: str, func, json_of: str | None = None):
    """A verb on one gateway's datapath: ``--gateway``, ``--netns`` and, when
    it has something to print as JSON, ``--json``."""
    parser = subparsers.add_parser(name, help=help)
    parser.add_argument(
        "--gateway",
        metavar="NAME",
        help="the gateway whose slice of the intent to use (default CYGNET_GATEWAY)",
    )
    parser.add_argument(
        "--netns",
        metavar="NS",
        help="work on this network namespace (as `ip netns` names it)",
    )
    if json_of:
        parser.add_argument(
            "--json", action="store_true", help=f"print the {json_of} as JSON"
        )
    parser.set_defaults(func=func)
    return parser


def register(subparsers) -> None:
    _verb(
        subparsers,
        "plan",
        "show what an apply would change in the kernel; changes nothing",
        run_plan,
        "plan",
    )
    _verb(
        subparsers,
        "apply",
        "bring the kernel to the intent, never opening a gap",
        run_apply,
        "result",
    )
    _verb(
        subparsers,
        "guard",
        "at boot: install the last plan's policies without keys, so protected "
        "traffic is dropped until apply brings the keys",
        run_guard,
    )
    trace = _verb(
        subparsers,
        "trace",
        "which policy decides a packet's fate, and why",
        run_trace,
        "trace",
    )
    trace.add_argument("--src", required=True, metavar="IP", help="source address")
    trace.add_argument("--dst", required=True, metavar="IP", help="destination")
    trace.add_argument(
        "--proto", metavar="PROTO", help="tcp, udp, icmp or a protocol number"
    )
    trace.add_argument("--dport", type=int, metavar="N", help="destination port")
    trace.add_argument("--sport", type=int, metavar="N", help="source port")
    trace.add_argument(
        "--kernel",
        action="store_true",
        help="also ask the kernel which policy it holds for the packet",
    )
    _verb(
        subparsers,
        "status",
        "the gateway's last apply and the state of its tunnels",
        run_status,
        "status",
    )

    rekey = subparsers.add_parser(
        "rekey",
        help="start a make-before-break rotation of the manual keys between "
        "two gateways",
    )
    rekey.add_argument(
        "--gateway", metavar="NAME", help="one end (default CYGNET_GATEWAY)"
    )
    rekey.add_argument("--peer", required=True, metavar="NAME", help="the other end")
    rekey.set_defaults(func=run_rekey)


def _print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")


def run_plan(args: argparse.Namespace) -> int:
    from app.services import datapath

    plan = datapath.plan(datapath.gateway_name(args.gateway), args.netns)
    if args.json:
        _print_json(plan.to_dict())
    else:
        print(plan.render())
    return 0


class TerminalProgress:
    """A one-line progress counter on stderr, only when stderr is a terminal."""

    def __init__(self, stream=sys.stderr) -> None:
        self.stream = stream
        self.shown = False

    def __call__(self, done: int, total: int, step) -> None:
        width = len(str(total))
        self.stream.write(f"\r  {done:>{width}}/{total} changes applied")
        self.stream.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            self.stream.write("\n")
            self.stream.flush()


def _report(result, as_json: bool) -> int:
    if as_json:
        from app.services.datapath import result_dict

        _print_json(result_dict(result))
    elif result.ok:
        print(result.summary())
    else:
        print(f"cygnet: {result.summary()}", file=sys.stderr)
        for error in result.errors[1:]:
            print(f"  also: {error}", file=sys.stderr)
    return 0 if result.ok else EXIT_KERNEL


def run_apply(args: argparse.Namespace) -> int:
    from app.services import datapath

    gateway = datapath.gateway_name(args.gateway)
    progress = TerminalProgress() if sys.stderr.isatty() and not args.json else None
    try:
        result = datapath.apply(gateway, args.netns, actor="cli", progress=progress)
    finally:
        if progress is not None:
            progress.close()
    return _report(result, args.json)


def run_guard(args: argparse.Namespace) -> int:
    from app.services import datapath

    result = datapath.guard(datapath.gateway_name(args.gateway), args.netns)
    if result.ok:
        print(
            f"guard: {result.applied} change(s); protected traffic of gateway "
            f"{result.plan.gateway} is dropped until apply installs its keys"
        )
        return 0
    return _report(result, False)


def run_trace(args: argparse.Namespace) -> int:
    from app.services import datapath

    result = datapath.trace(
        datapath.gateway_name(args.gateway),
        args.src,
        args.dst,
        args.proto,
        args.dport,
        args.sport,
        kernel=args.kernel,
        netns=args.netns,
    )
    if args.json:
        _print_json(result.to_dict())
    else:
        print(result.render())
    return 0


def run_status(args: argparse.Namespace) -> int:
    from app.services import datapath

    status = datapath.status(datapath.gateway_name(args.gateway), args.netns)
    if args.json:
        _print_json(status.to_dict())
    else:
        print(status.render())
    return 0


def run_rekey(args: argparse.Namespace) -> int:
    from app.services import datapath

    gateway = datapath.gateway_name(args.gateway)
    generation = datapath.rekey(gateway, args.peer, actor="cli")
    print(
        f"rekey {gateway}<->{args.peer}: generation {generation} started. Each "
        "gateway's next apply installs its inbound SAs; once both have, senders "
        "switch to it, and the old keys go after the grace period "
        "(cygnet serve moves these steps on by itself)."
    )
    return 0
