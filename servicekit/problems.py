"""The error a client can act on: rendered as RFC 9457 problem+json (servicekit.http) with a stable `code`."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


class Problem(Exception):
    """An error the client can act on, rendered as problem+json. `code` is stable: clients branch on it."""

    def __init__(
        self,
        status: int,
        code: str,
        title: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.code = code
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.extra = extra


@dataclass(frozen=True)
class ProblemType:
    """One kind of problem, written once: its status, stable code, title and (when it never varies) detail and
    headers. Calling it makes the `Problem` to raise, with what varies from one occurrence to the next."""

    status: int
    code: str
    title: str
    detail: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)

    def with_detail(self, detail: str) -> ProblemType:
        """The same kind of problem, always told with this detail (e.g. which thing was not found)."""
        return dataclasses.replace(self, detail=detail)

    def __call__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None, **extra: Any) -> Problem:
        merged = {**self.headers, **(headers or {})}
        return Problem(self.status, self.code, self.title, detail or self.detail, headers=merged, **extra)


# A domain error's problem: the same for every occurrence (a ProblemType), or made from the error (its limits).
ProblemEntry = ProblemType | Callable[[Any], Problem]
ProblemTable = Mapping[type[Exception], ProblemEntry]

VALIDATION_ERROR = ProblemType(422, "validation_error", "The request is not valid.")
NOT_FOUND = ProblemType(404, "not_found", "Not Found")
UNSUPPORTED_MEDIA_TYPE = ProblemType(415, "unsupported_media_type", "The body is not of a type this operation takes.")
INVALID_CURSOR = ProblemType(
    400, "invalid_cursor", "The cursor is not valid.", "Use the next_cursor of a previous page."
)


def problem_of(table: dict[type[Exception], ProblemEntry], error: Exception) -> Problem | None:
    """The problem `table` answers `error` with (its class's entry, or its nearest base class's), if any."""
    for kind in type(error).__mro__:
        entry = table.get(kind)
        if isinstance(entry, ProblemType):
            return entry()
        if entry is not None:
            return entry(error)
    return None
