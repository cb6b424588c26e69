"""`framepipe completion SHELL`: a completion script generated from the command's own parser, so every command,
option and choice completes and never drifts from what the command accepts.

    bash:  framepipe completion bash > ~/.local/share/bash-completion/completions/framepipe
    zsh:   framepipe completion zsh > ~/.zfunc/_framepipe   (with ~/.zfunc in $fpath)"""

from __future__ import annotations

import argparse
import functools
import sys

import shtab

from ops.command import Subparsers

SHELLS = ("bash", "zsh", "tcsh")


def register(subparsers: Subparsers, root: argparse.ArgumentParser) -> None:
    """`root` is the whole `framepipe` parser, this command included: the one the script completes."""
    parser = subparsers.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh, tcsh)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("shell", choices=SHELLS)
    parser.set_defaults(handler=functools.partial(run, root))


def run(root: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    sys.stdout.write(shtab.complete(root, shell=args.shell))
    return 0
