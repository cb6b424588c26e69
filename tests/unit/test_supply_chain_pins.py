"""What CI runs and what the images start from cannot move under us: every workflow action is pinned by full commit
SHA with its release in a comment, the base image by digest, and the image scan fails on HIGH and CRITICAL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"


def steps(workflow: Path) -> list[dict[str, Any]]:
    jobs = yaml.safe_load(workflow.read_text())["jobs"]
    return [step for job in jobs.values() for step in job.get("steps", [])]


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda path: path.name)
def test_every_action_is_pinned_by_commit_sha_with_its_release_in_a_comment(workflow: Path) -> None:
    uses = [line.strip() for line in workflow.read_text().splitlines() if re.match(r"\s*(- )?uses:", line)]
    assert uses
    for line in uses:
        assert re.fullmatch(r"(- )?uses: [\w.-]+/[\w./-]+@[0-9a-f]{40} # v\d+(\.\d+)*", line), line


def test_the_image_scan_fails_on_high_and_critical_findings_that_have_a_fix() -> None:
    build_push = ROOT / ".github" / "workflows" / "build-push.yml"
    scans = [step for step in steps(build_push) if "trivy" in step.get("uses", "")]
    gates = [step["with"] for step in scans if step["with"].get("exit-code") == "1"]
    assert len(gates) == 1
    (gate,) = gates
    assert set(gate["severity"].split(",")) == {"HIGH", "CRITICAL"}
    assert gate["ignore-unfixed"] is True


def test_the_base_image_is_pinned_by_digest_and_is_the_default() -> None:
    text = DOCKERFILE.read_text()
    registry_images = re.findall(r"^FROM (\S+:\S+)", text, flags=re.M)
    assert registry_images
    for image in registry_images:
        assert re.search(r"@sha256:[0-9a-f]{64}$", image), image
    (default,) = re.findall(r"^ARG PYTHON_IMAGE=(\S+)", text, flags=re.M)
    assert re.search(rf"^FROM \S+@sha256:[0-9a-f]{{64}} AS {re.escape(default)}$", text, flags=re.M)
