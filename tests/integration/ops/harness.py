"""Running the operators' commands as the ops tests do."""

from __future__ import annotations

import io

from ops.cli import build_parser


async def framepipe(*argv: str) -> str:
    """Run a command through the real parser and its async entry point; its stdout."""
    args = build_parser().parse_args(list(argv))
    out = io.StringIO()
    code = await args.run_async(args, out)
    assert code == 0, out.getvalue()
    return out.getvalue()
