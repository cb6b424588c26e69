"""The audit trail of operator jobs that changed something (a replay, a redrive, a purge): one JSON line per
job in an append-only file, and the same record in the logs."""

from __future__ import annotations

import argparse
import getpass
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("framepipe.audit")

DEFAULT_AUDIT_LOG = Path("var/audit/replay.jsonl")


def add_audit_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--audit-log", type=Path, default=DEFAULT_AUDIT_LOG, help="JSON-lines audit log (default: %(default)s)"
    )


def operator() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return "unknown"


def record_job(path: Path, job: str, **details: Any) -> dict[str, Any]:
    record = {"job": job, "who": operator(), "when": datetime.now(UTC).isoformat(), **details}
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as audit:
        audit.write(json.dumps(record, sort_keys=True, default=str) + "\n")
    log.info("operator_job", **record)
    return record
