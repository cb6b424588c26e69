"""What every `framepipe` command module shares, below them all: the `Subparsers` its `register` adds to, and
`run_job`, which runs an async command to its exit code. It imports no command, so no command imports the entry
point (ops/cli.py) back."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol, TypeAlias

Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


class CommandModule(Protocol):
    def register(self, subparsers: Subparsers) -> None: ...


def run_job(command: str, job: Coroutine[Any, Any, int], failures: Mapping[type[Exception], int]) -> int:
    """The job's exit code. An expected failure (a key of `failures`) is one line on stderr, `framepipe COMMAND:
    why`, and the code it maps to; Ctrl-C ends the job with 130."""
    try:
        return asyncio.run(job)
    except tuple(failures) as exc:
        print(f"framepipe {command}: {exc}", file=sys.stderr)
        return next(code for kind, code in failures.items() if isinstance(exc, kind))
    except KeyboardInterrupt:
        return 130
