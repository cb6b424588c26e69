"""Every port compose.yaml publishes is documented in docs/deploy.md's Compose ports table."""

from __future__ import annotations

from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_every_published_port_is_documented() -> None:
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    published = {
        str(mapping).split(":")[-2] for service in compose["services"].values() for mapping in service.get("ports", [])
    }
    docs = (ROOT / "docs/deploy.md").read_text()
    table = docs[docs.index("### Ports") : docs.index("processor_svc has no published port")]
    assert published
    assert sorted(p for p in published if p not in table) == []
