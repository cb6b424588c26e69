"""The versions a `--version` reports: the installed framepipe and the event contract it speaks."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from contracts.version import CONTRACT_VERSION


def version_text() -> str:
    try:
        installed = version("framepipe")
    except PackageNotFoundError:
        installed = "unknown (not installed)"
    return f"framepipe {installed} (event contract {CONTRACT_VERSION})"
