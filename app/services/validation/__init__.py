"""Every rule the intent must obey, in one place.

The API, import and the CLI all call these functions, so the same mistake gets
the same message wherever it is made.  Field rules live in :mod:`.fields`, rules
between items in :mod:`.rules`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from app.services.problems import CONFLICT, Path, Problem, ValidationFailed
from app.services.spec import COLLECTIONS, Document
from app.services.validation.fields import item_name, parse_item
from app.services.validation.rules import (
    End,
    Focus,
    Items,
    check_all,
    resolve_policy,
    users_of_gateway,
    users_of_subnet,
)

__all__ = [
    "End",
    "check_delete",
    "line_of",
    "parse_document",
    "parse_item",
    "resolve_ends",
    "validate_document",
]

TOP_KEYS = tuple(COLLECTIONS.values())


def line_of(path: Path, lines: Mapping[Path, int]) -> int | None:
    """The line of the nearest enclosing node ``lines`` knows."""
    for end in range(len(path), -1, -1):
        if path[:end] in lines:
            return lines[path[:end]]
    return None


def parse_document(raw: Any, lines: Mapping[Path, int] | None = None) -> Document:
    """Check a whole document (parsed YAML or JSON) and return it as specs.

    Raises :class:`ValidationFailed` listing every problem, each with its line
    when ``lines`` maps paths to line numbers.
    """
    problems: list[Problem] = []
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        problems.append(
            Problem((), "the intent is a mapping with gateways, subnets and policies")
        )
        raw = {}
    for key in raw:
        if key not in TOP_KEYS:
            problems.append(
                Problem(
                    (str(key),),
                    f"unknown key {key!r}; the intent has {', '.join(TOP_KEYS)}",
                )
            )

    parsed: dict[str, list] = {}
    claimed: dict[str, list] = {}
    for kind, collection in COLLECTIONS.items():
        entries = raw.get(collection)
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            problems.append(
                Problem((collection,), f"must be a list of {collection}, one per item")
            )
            entries = []
        parsed[kind], claimed[kind] = [], []
        for index, entry in enumerate(entries):
            spec, found = parse_item(kind, entry, (collection, index))
            parsed[kind].append(spec)
            claimed[kind].append(item_name(entry))
            problems += found

    items = Items(parsed["gateway"], parsed["subnet"], parsed["policy"], claimed)
    problems += check_all(items)
    if problems:
        lines = lines or {}
        problems.sort(key=_document_order)
        raise ValidationFailed([p.at(line_of(p.path, lines)) for p in problems])
    return Document(parsed["gateway"], parsed["subnet"], parsed["policy"])


def _document_order(problem: Problem) -> tuple:
    head = problem.path[0] if problem.path else ""
    rank = TOP_KEYS.index(head) if head in TOP_KEYS else -1
    rest = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in problem.path)
    return (rank, rest)


def validate_document(doc: Document, focus: Focus = None) -> list[Problem]:
    """The problems between the items of ``doc`` (each item already parsed)."""
    return check_all(Items(doc.gateways, doc.subnets, doc.policies), focus)


def check_delete(doc: Document, kind: str, name: str) -> list[Problem]:
    """Why the ``kind`` named ``name`` cannot be deleted: who still uses it."""
    items = Items(doc.gateways, doc.subnets, doc.policies)
    index = doc.find(kind, name)
    path = (COLLECTIONS[kind], index)
    if kind == "gateway":
        users = users_of_gateway(items, name)
        if users:
            return [
                Problem(
                    path,
                    f"gateway {name} is still used by subnets {', '.join(users)}; "
                    "delete them or move them to another gateway first",
                    CONFLICT,
                )
            ]
    if kind == "subnet":
        users = users_of_subnet(items, name)
        if users:
            return [
                Problem(
                    path,
                    f"subnet {name} is still used by policies {', '.join(users)}; "
                    "delete or change those policies first",
                    CONFLICT,
                )
            ]
    return []


def resolve_ends(doc: Document) -> list[tuple[End, End]]:
    """Each policy's two ends resolved; ``doc`` must be valid."""
    items = Items(doc.gateways, doc.subnets, doc.policies)
    resolved = []
    for policy in doc.policies:
        ends = resolve_policy(policy, items)
        if not all(isinstance(e, End) for e in ends):
            raise ValidationFailed(
                [Problem(("policies", policy.name), "cannot be resolved: " + str(ends))]
            )
        resolved.append((ends[0], ends[1]))
    return resolved
