"""framepipe-contracts is its own distribution: the wheel is built from the repository, installed in a clean
virtualenv with nothing but its own dependency, and imported there without any of the server's libraries."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from contracts.registry import EVENT_TYPES
from contracts.version import CONTRACT_VERSION
from ops.schemas.changelog import CHANGELOG
from ops.schemas.json_schemas import event_json_schema
from ops.schemas.package import build_wheel

CHECK = """
import importlib.metadata, importlib.resources, json, sys
import contracts
from contracts.examples import example_envelope
from contracts.envelope import encode
event = contracts.decode(encode(example_envelope("video.processed.v1")))
schemas = importlib.resources.files("contracts") / "schemas"
print(json.dumps({
    "version": importlib.metadata.version("framepipe-contracts"),
    "contract": contracts.CONTRACT_VERSION,
    "decoded": [event.type, event.data.frame_count],
    "server_libraries": sorted(m for m in ("aiohttp", "aio_pika", "asyncpg", "boto3", "botocore", "aioboto3",
                                           "structlog", "servicekit") if m in sys.modules),
    "schemas": sorted(p.name for p in schemas.iterdir()),
    "processed_schema": json.loads((schemas / "video.processed.v1.json").read_text()),
    "types": sorted(contracts.EVENT_TYPES),
}))
"""


def test_the_distribution_version_is_the_last_release_of_the_changelog() -> None:
    assert CHANGELOG[-1].version == CONTRACT_VERSION


def test_the_wheel_installs_and_imports_in_a_clean_virtualenv_without_the_server_libraries(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True, timeout=300,
    )  # fmt: skip
    installed = subprocess.run(
        [str(python), "-m", "pip", "list", "--format=json"], check=True, capture_output=True, text=True, timeout=60
    )
    # Run away from the repository: `python -c` puts the working directory first on sys.path.
    result = subprocess.run([str(python), "-c", CHECK], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    no_aiohttp = subprocess.run([str(python), "-c", "import aiohttp"], cwd=tmp_path, capture_output=True, timeout=60)

    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert wheel.name == f"framepipe_contracts-{CONTRACT_VERSION}-py3-none-any.whl"
    assert report["version"] == report["contract"] == CONTRACT_VERSION
    assert report["decoded"] == ["video.processed.v1", 180]
    assert report["server_libraries"] == []
    assert no_aiohttp.returncode != 0
    assert report["schemas"] == sorted(f"{t}.json" for t in EVENT_TYPES)
    assert report["processed_schema"] == event_json_schema("video.processed.v1")
    assert report["types"] == sorted(EVENT_TYPES)
    names = {p["name"].lower() for p in json.loads(installed.stdout)}
    assert "framepipe-contracts" in names
    assert not names & {"aiohttp", "aio-pika", "asyncpg", "boto3", "aioboto3", "framepipe"}
