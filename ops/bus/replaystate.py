"""What a replay job is and what it has sent, kept in a JSON-lines state file per replay id so an interrupted
job can resume without sending anything twice.

The file starts with the job (filters, target, mode, reason, rate and the archive offset it ends at), then one
`sent` line per confirmed event and, every so often, a `checkpoint`: every matching event at or below that
archive offset has been confirmed. Resuming reads the archive from the checkpoint on and skips the few ids
confirmed after it, so neither the file reader nor the job keeps more than a window of ids in memory."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from contracts.topology import EVENTS_EXCHANGE
from ops.bus.filters import EventFilter

DEFAULT_STATE_DIR = Path("var/replay")


def new_replay_id() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class Target:
    """`queue`: the default exchange with the queue's name as routing key, so only that queue gets a copy;
    `exchange`: the events exchange with the event type as routing key, so every subscriber does."""

    kind: str
    name: str

    @property
    def exchange(self) -> str:
        return "" if self.kind == "queue" else EVENTS_EXCHANGE

    def routing_key(self, event_type: str) -> str:
        return self.name if self.kind == "queue" else event_type

    def describe(self) -> str:
        return f"queue {self.name}" if self.kind == "queue" else f"exchange {self.name} (every subscriber)"


def exchange_target() -> Target:
    return Target("exchange", EVENTS_EXCHANGE)


@dataclass(frozen=True)
class ReplayJob:
    replay_id: str
    event_filter: EventFilter
    target: Target
    mode: str
    reason: str
    rate: float | None
    end_offset: int | None
    include_replayed: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "replay_id": self.replay_id,
            "filters": self.event_filter.describe(),
            "target": {"kind": self.target.kind, "name": self.target.name},
            "mode": self.mode,
            "reason": self.reason,
            "rate": self.rate,
            "end_offset": self.end_offset,
            "include_replayed": self.include_replayed,
        }

    @classmethod
    def from_description(cls, described: dict[str, Any]) -> ReplayJob:
        return cls(
            replay_id=described["replay_id"],
            event_filter=EventFilter.from_description(described["filters"]),
            target=Target(**described["target"]),
            mode=described["mode"],
            reason=described["reason"],
            rate=described["rate"],
            end_offset=described["end_offset"],
            include_replayed=described.get("include_replayed", False),
        )


@dataclass
class ResumePoint:
    """Where an interrupted job stands: confirmed up to `checkpoint`, plus the ids confirmed after it."""

    job: ReplayJob
    checkpoint: int | None = None
    sent_after: set[str] = field(default_factory=set)
    sent_total: int = 0
    finished: bool = False


def state_path(state_dir: Path, replay_id: str) -> Path:
    return state_dir / f"{replay_id}.state.jsonl"


def _lines(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as state:
        for line in state:
            try:
                yield json.loads(line)
            except ValueError:  # a line cut short by a hard kill: everything before it still counts
                return


def load_resume_point(path: Path) -> ResumePoint:
    lines = _lines(path)
    first = next(lines, None)
    if first is None or "job" not in first:
        raise ValueError(f"{path} is not a replay state file")
    point = ResumePoint(ReplayJob.from_description(first["job"]))
    for entry in lines:
        if "sent" in entry:
            point.sent_after.add(entry["sent"])
            point.sent_total += 1
        elif "checkpoint" in entry:
            point.checkpoint = entry["checkpoint"]
            point.sent_after.clear()
        elif "finished" in entry:
            point.finished = True
    return point


FLUSH_EVERY = 32  # confirmed events per flush of the state file


class StateFile:
    """Append-only. Confirmed events are flushed every FLUSH_EVERY lines, checkpoints and the end at once: after a
    hard kill only the events whose confirm was still in flight and the last few confirmed ones can be sent once
    more on resume (a clean interruption waits for the confirms and flushes everything). A flush per event cost a
    system call per replayed event."""

    def __init__(self, path: Path, job: ReplayJob, *, new: bool) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] = path.open("a", encoding="utf-8")
        self._unflushed = 0
        if new:
            self._write({"job": job.describe()})
            self._file.flush()

    def _write(self, entry: dict[str, Any]) -> None:
        self._file.write(json.dumps(entry, separators=(",", ":")) + "\n")

    def sent(self, event_id: str) -> None:
        self._write({"sent": event_id})
        self._unflushed += 1
        if self._unflushed >= FLUSH_EVERY:
            self._file.flush()
            self._unflushed = 0

    def checkpoint(self, offset: int) -> None:
        self._write({"checkpoint": offset})
        self._file.flush()
        self._unflushed = 0

    def finished(self, counts: dict[str, int]) -> None:
        self._write({"finished": counts})

    def close(self) -> None:
        self._file.flush()
        self._file.close()
