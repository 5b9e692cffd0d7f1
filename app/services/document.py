"""The intent as a YAML or JSON document: reading with line numbers, writing.

The format (``examples/freeswan.yaml``)::

    gateways:
      - {name: x, address: 192.0.2.1}
    subnets:
      - {name: s, cidr: 10.1.0.0/24, gateway: x}
    policies:
      - {name: s-u, between: [s, u], action: protect}

Export writes each item on one line in that flow style, fields at their default
left out, so importing a file and exporting it again gives the same document.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

from app.services.problems import MALFORMED, Path, Problem, ValidationFailed
from app.services.spec import COLLECTIONS, Document, document_form
from app.services.validation import parse_document

FORMATS = ("yaml", "json")
_REPLACED = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:timestamp",
}


class IntentLoader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2's plain scalars.

    PyYAML follows YAML 1.1, where ``on``, ``no`` and ``yes`` are booleans and
    ``1:2:3:4:5:6:7:8`` is a base-60 number: a gateway named ``on`` or an IPv6
    address left unquoted would silently turn into something else.  Here only
    ``true``/``false`` are booleans, numbers are decimal (or 0x hex) and dates
    stay text.
    """


IntentLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in _REPLACED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
IntentLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)
IntentLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int",
    re.compile(r"^(?:[-+]?(?:0|[1-9][0-9]*)|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
IntentLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


def read_document(text: str | bytes) -> Document:
    """Parse and validate a YAML or JSON document; all or nothing.

    Raises :class:`ValidationFailed` naming every problem with its line.
    """
    data, lines = load_text(text)
    return parse_document(data, lines)


def load_text(text: str | bytes) -> tuple[Any, dict[Path, int]]:
    """The data in ``text`` and the line where each path starts (1-based)."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ValidationFailed(
                [
                    Problem(
                        (), f"the document is not UTF-8 text ({exc.reason})", MALFORMED
                    )
                ]
            ) from None
    if text.lstrip().startswith(("{", "[")):
        data = _load_json(text)
        try:
            lines = _lines(yaml.compose(text, Loader=IntentLoader))
        except yaml.YAMLError:
            lines = {}  # JSON that YAML cannot read: no line numbers, still valid
        return data, lines
    return _load_yaml(text)


def _load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            [
                Problem(
                    (),
                    f"malformed JSON at line {exc.lineno}, column {exc.colno}: "
                    f"{exc.msg}; fix the syntax",
                    MALFORMED,
                    exc.lineno,
                )
            ]
        ) from None


def _load_yaml(text: str) -> tuple[Any, dict[Path, int]]:
    loader = IntentLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None, {}
        duplicates = _duplicate_keys(node, ())
        if duplicates:
            raise ValidationFailed(duplicates)
        return loader.construct_document(node), _lines(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        where = f" at line {line}, column {mark.column + 1}" if mark else ""
        raise ValidationFailed(
            [
                Problem(
                    (),
                    f"malformed YAML{where}: {exc.problem or exc.context}; "
                    "fix the syntax",
                    MALFORMED,
                    line,
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        raise ValidationFailed(
            [Problem((), f"malformed YAML: {exc}; fix the syntax", MALFORMED)]
        ) from None
    finally:
        loader.dispose()


def _children(node: yaml.Node, path: Path):
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            yield key_node, path + (str(key_node.value),), value_node
    elif isinstance(node, yaml.SequenceNode):
        for index, value_node in enumerate(node.value):
            yield None, path + (index,), value_node


def _lines(node: yaml.Node, path: Path = ()) -> dict[Path, int]:
    lines = {path: node.start_mark.line + 1}
    for _, child_path, child in _children(node, path):
        lines.update(_lines(child, child_path))
    return lines


def _duplicate_keys(node: yaml.Node, path: Path) -> list[Problem]:
    problems = []
    seen: set[str] = set()
    for key_node, child_path, child in _children(node, path):
        if key_node is not None:
            if key_node.value in seen:
                problems.append(
                    Problem(
                        child_path,
                        f"key {key_node.value!r} appears twice; keep one",
                        MALFORMED,
                        key_node.start_mark.line + 1,
                    )
                )
            seen.add(key_node.value)
        problems += _duplicate_keys(child, child_path)
    return problems


def dump_document(doc: Document, fmt: str = "yaml") -> str:
    """The document as YAML (one flow-style line per item) or JSON."""
    form = document_form(doc)
    if fmt == "json":
        return json.dumps(form, indent=2) + "\n"
    if fmt != "yaml":
        raise ValueError(f"unknown format {fmt!r}; use yaml or json")
    out = []
    for collection in COLLECTIONS.values():
        items = form[collection]
        if not items:
            out.append(f"{collection}: []")
            continue
        out.append(f"{collection}:")
        for item in items:
            line = yaml.safe_dump(
                item, default_flow_style=True, sort_keys=False, width=1 << 16
            ).strip()
            out.append(f"  - {line}")
    return "\n".join(out) + "\n"
