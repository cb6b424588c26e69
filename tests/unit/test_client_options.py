"""`framepipe client upload`'s option flags tell the contract's own bounds and defaults."""

from __future__ import annotations

import argparse

from contracts import ProcessingOptions
from ops.client.options import FLAGS, add_option_flags


def _help() -> str:
    parser = argparse.ArgumentParser(formatter_class=lambda prog: argparse.HelpFormatter(prog, width=1000))
    add_option_flags(parser)
    return parser.format_help()


def test_each_flag_tells_the_contracts_default_when_there_is_one() -> None:
    lines = {line.split()[0]: line for line in _help().splitlines() if line.strip().startswith("--")}
    for field, info in ProcessingOptions.model_fields.items():
        line = lines[FLAGS[field][0]]
        if info.default is None or info.default is False:
            assert "(default " not in line.replace("(default: the video's end)", ""), line
        else:
            shown = f"{info.default:g}" if isinstance(info.default, float) else str(info.default)
            assert line.endswith(f"(default {shown})"), line


def test_bounds_come_from_the_contract() -> None:
    text = _help()
    bounds = ProcessingOptions.model_fields["interval_seconds"].metadata
    low = next(m.ge for m in bounds if hasattr(m, "ge"))
    high = next(m.le for m in bounds if hasattr(m, "le"))
    assert f"--interval S seconds between frames; {low:g} to {high:g} (default 1)" in " ".join(text.split())
