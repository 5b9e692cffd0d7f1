"""Problems found in input, and the exceptions that carry them.

A problem names where it is (a path such as ``policies[1].between[0]``) and says
what is wrong and how to fix it.  The API turns them into RFC 9457 problem
documents, the CLI into lines on stderr.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

Path = tuple[str | int, ...]

INVALID = "invalid"
CONFLICT = "conflict"
MALFORMED = "malformed"


@dataclass(frozen=True)
class Problem:
    path: Path
    message: str
    kind: str = INVALID
    line: int | None = None

    @property
    def field(self) -> str:
        return render_path(self.path)

    def at(self, line: int | None) -> Problem:
        return replace(self, line=line)

    def __str__(self) -> str:
        where = self.field or "document"
        if self.line is not None:
            where += f" (line {self.line})"
        return f"{where}: {self.message}"


def render_path(path: Path) -> str:
    """``("policies", 1, "between", 0)`` -> ``policies[1].between[0]``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else part
    return text


class CygnetError(Exception):
    """An error to show the user as it is."""

    status = 400
    title = "Bad request"


class ValidationFailed(CygnetError):
    """The input breaks one or more rules; nothing was written."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @property
    def status(self) -> int:  # type: ignore[override]
        kinds = {p.kind for p in self.problems}
        if MALFORMED in kinds:
            return 400
        if kinds == {CONFLICT}:
            return 409
        return 422

    @property
    def title(self) -> str:  # type: ignore[override]
        return {400: "Malformed input", 409: "Conflict"}.get(
            self.status, "Invalid input"
        )


class NotFound(CygnetError):
    status = 404
    title = "Not found"

    def __init__(self, kind: str, name: str) -> None:
        self.kind, self.name = kind, name
        super().__init__(f"no {kind} named {name!r}")


class PreconditionFailed(CygnetError):
    status = 412
    title = "Precondition failed"

    def __init__(self, what: str, current: str) -> None:
        self.current = current
        super().__init__(
            f"{what} has changed since you read it (its ETag is now {current}); "
            "read it again and retry with the new ETag in If-Match"
        )
