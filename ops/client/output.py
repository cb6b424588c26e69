"""What a client command prints: lines for a person, or with `--json` exactly one JSON document on stdout (the
answer, or `{"error": {...}}` with the exit code), so a script never parses prose. Progress bars and retry notes
go to stderr either way."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from ops.client.api import ApiError


class Output:
    def __init__(self, as_json: bool, stream: TextIO | None = None, errors: TextIO | None = None) -> None:
        self.as_json = as_json
        self._out = stream or sys.stdout
        self._err = errors or sys.stderr

    def result(self, document: Any, lines: Iterable[str] = ()) -> None:
        """The command's answer: the document with --json, else the lines."""
        if self.as_json:
            self._out.write(json.dumps(document, ensure_ascii=False, sort_keys=True) + "\n")
        else:
            for line in lines:
                self._out.write(line + "\n")
        self._out.flush()

    def note(self, line: str) -> None:
        """For a person only (a hint, a next step); never part of the JSON document."""
        if not self.as_json:
            self._out.write(line + "\n")

    def failure(self, message: str, error: ApiError | None = None, exit_code: int = 1) -> None:
        self._err.write(f"error: {message}\n")
        self._err.flush()
        if self.as_json:
            self.result({"error": error_document(message, error, exit_code)})


def error_document(message: str, error: ApiError | None, exit_code: int) -> dict[str, Any]:
    document: dict[str, Any] = {"message": message, "exit_code": exit_code}
    if error is not None:
        document.update(status=error.status, code=error.code, detail=error.detail)
        if error.retry_after:
            document["retry_after"] = error.retry_after
    return document
