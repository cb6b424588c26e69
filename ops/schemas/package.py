"""The `framepipe-contracts` wheel: a staging copy of `contracts/` with the generated JSON Schema of every event
type in `contracts/schemas/`, built with packaging/framepipe-contracts/pyproject.toml. The version is the
contract's (contracts/version.py); nothing generated is kept in the source tree."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from contracts.registry import EVENT_TYPES
from ops.schemas.documents import render_json
from ops.schemas.json_schemas import event_json_schema

ROOT = Path(__file__).resolve().parents[2]
PROJECT = ROOT / "packaging" / "framepipe-contracts"
SOURCE = ROOT / "contracts"


def stage(directory: Path) -> Path:
    """Lay out the distribution's project in `directory` (which must be empty or missing)."""
    package = directory / "contracts"
    shutil.copytree(SOURCE, package, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "schemas"))
    schemas = package / "schemas"
    schemas.mkdir()
    for event_type in EVENT_TYPES:
        (schemas / f"{event_type}.json").write_bytes(render_json(event_json_schema(event_type)))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT / name, directory / name)
    return directory


def build_wheel(out_dir: Path) -> Path:
    """Build the wheel into `out_dir` with this interpreter's setuptools (no download); returns its path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="framepipe-contracts-") as tmp:
        project = stage(Path(tmp) / "project")
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
             "--wheel-dir", str(out_dir), str(project)],
            check=True, timeout=300,
        )  # fmt: skip
    from contracts.version import CONTRACT_VERSION

    return out_dir / f"framepipe_contracts-{CONTRACT_VERSION}-py3-none-any.whl"
