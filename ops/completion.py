"""`framepipe completion SHELL`: a completion script generated from the command's own parser, so every command,
option and choice completes and never drifts from what the command accepts.

    bash:  framepipe completion bash > ~/.local/share/bash-completion/completions/framepipe
    zsh:   framepipe completion zsh > ~/.zfunc/_framepipe   (with ~/.zfunc in $fpath)"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

import shtab

if TYPE_CHECKING:
    from ops.cli import Subparsers

SHELLS = ("bash", "zsh", "tcsh")


def register(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, tcsh)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from ops.cli import build_parser  # the whole parser, this command included

    sys.stdout.write(shtab.complete(build_parser(), shell=args.shell))
    return 0
