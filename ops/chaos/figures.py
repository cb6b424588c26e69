"""The outcome of a chaos run, from what users and operators can observe: every accepted upload's final state (the
API), the result ZIPs written (S3 object versions: a ZIP made again is a second, different version), the
e-mails the SMTP server accepted, the probes' failover times, upload latencies and the outboxes' worst lag."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from contracts import TERMINAL_STATUSES as TERMINAL
from ops.chaos.faults import BROKER_FAULTS, FaultRecord
from ops.chaos.load import FailoverProbes, OutboxWatch, Upload, UploadLoad
from ops.chaos.stack import BUCKET, ChaosStack

VIDEO_LINK = re.compile(r"/app/videos/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")


@dataclass
class Failover:
    fault: str
    seconds: float | None  # None: a probe never published again


@dataclass
class Figures:
    seconds: float
    faults: list[FaultRecord]
    uploads: list[Upload]
    states: dict[str, dict[str, Any]]  # accepted video id -> its last state
    zip_writes: dict[str, int]  # video id -> distinct contents written as its result ZIP
    emails: list[EmailMessage]
    failovers: list[Failover]
    outbox_max_lag: float
    outbox_samples: int
    notes: list[str] = field(default_factory=list)

    @property
    def accepted(self) -> list[Upload]:
        return [u for u in self.uploads if u.accepted]

    @property
    def lost(self) -> list[str]:
        return [vid for vid, state in self.states.items() if state.get("status") not in TERMINAL]

    @property
    def terminal(self) -> Counter[str]:
        return Counter(str(s["status"]) for s in self.states.values() if s.get("status") in TERMINAL)

    @property
    def failure_codes(self) -> Counter[str]:
        return Counter(
            str((s.get("error") or {}).get("code")) for s in self.states.values() if s.get("status") == "failed"
        )

    @property
    def second_zips(self) -> dict[str, int]:
        return {video: n for video, n in self.zip_writes.items() if n > 1}

    @property
    def second_emails(self) -> dict[str, int]:
        """Outcomes e-mailed more than once: by Message-ID (one per outcome event), and by video and kind."""
        by_id = Counter(str(m["Message-ID"]) for m in self.emails)
        by_outcome = Counter((_video_of(m), _kind_of(m)) for m in self.emails)
        repeated = {key: n for key, n in by_id.items() if n > 1}
        repeated.update({f"{v} {k}": n for (v, k), n in by_outcome.items() if n > 1 and v})
        return repeated

    @property
    def missing_emails(self) -> list[str]:
        mailed = {_video_of(m) for m in self.emails}
        return [vid for vid, state in self.states.items() if state.get("status") in TERMINAL and vid not in mailed]

    def during_faults(self, upload: Upload) -> bool:
        return any(f.covers(upload.started) for f in self.faults)

    def report(self) -> list[str]:
        accepted = self.accepted
        answered = [u for u in self.uploads if u.status]
        in_fault = [u.ended - u.started for u in accepted if self.during_faults(u)]
        calm = [u.ended - u.started for u in accepted if not self.during_faults(u)]
        return [
            f"chaos run: {self.seconds / 60:.1f} min, {len(self.faults)} faults",
            f"  accepted uploads         {len(accepted)}   (refused: {len(answered) - len(accepted)} with an error "
            f"answer, {len(self.uploads) - len(answered)} unanswered)",
            f"  terminal states          {sum(self.terminal.values())}   (done {self.terminal['done']}, "
            f"failed {self.terminal['failed']}{_codes(self.failure_codes)})",
            f"  lost (accepted, never terminal)            {len(self.lost)}",
            f"  duplicate effects: second ZIP upload        {len(self.second_zips)}",
            f"                     second e-mail, one outcome {len(self.second_emails)}",
            f"  e-mails missing for a terminal video        {len(self.missing_emails)}",
            *self._failover_lines(),
            f"  upload latency p99: during faults {_ms(percentile(in_fault, 99))} (n={len(in_fault)}), "
            f"outside faults {_ms(percentile(calm, 99))} (n={len(calm)}), ratio "
            f"{_ratio(percentile(in_fault, 99), percentile(calm, 99))}",
            f"  outbox max lag           {self.outbox_max_lag:.1f} s   ({self.outbox_samples} samples)",
            *self._fault_lines(),
            *self._evidence_lines(),
            *self.notes,
        ]

    def _evidence_lines(self) -> list[str]:
        """The first few ids behind every count that should be zero, to look them up in the services' log."""
        found = {
            "lost": self.lost,
            "second ZIP": list(self.second_zips),
            "second e-mail": list(self.second_emails),
            "no e-mail": self.missing_emails,
        }
        return [f"  {what}: {' '.join(ids[:5])}" for what, ids in found.items() if ids]

    def _failover_lines(self) -> list[str]:
        broker = [f.seconds for f in self.failovers if f.seconds is not None]
        unrecovered = [f.fault for f in self.failovers if f.seconds is None]
        lines = [
            f"  failover time, broker faults (n={len(broker)}): p50 {_s(percentile(broker, 50))}   "
            f"p99 {_s(percentile(broker, 99))}   max {_s(max(broker, default=None))}"
            + (f"   NOT RECOVERED: {unrecovered}" if unrecovered else "")
        ]
        for name in sorted({f.fault for f in self.failovers}):
            times = [f.seconds for f in self.failovers if f.fault == name and f.seconds is not None]
            lines.append(f"    {name:<20} " + " ".join(_s(t) for t in times))
        return lines

    def _fault_lines(self) -> list[str]:
        """One line per fault: when, how long, and what the uploads made while it lasted became."""
        start = min((u.started for u in self.uploads), default=0.0)
        lines = ["  per fault: start, length, uploads while it lasted (accepted/refused), their p99, their failures"]
        for fault in self.faults:
            during = [u for u in self.uploads if fault.covers(u.started)]
            taken = [u for u in during if u.accepted]
            failed = [u for u in taken if self.states.get(str(u.video_id), {}).get("status") == "failed"]
            latency = percentile([u.ended - u.started for u in taken], 99)
            name = f"{fault.name}({fault.detail})" if fault.detail else fault.name
            lines.append(
                f"    +{_clock(fault.started - start)} {name:<36} {fault.ended - fault.started:6.1f} s   "
                f"{len(taken):3d}/{len(during) - len(taken):<3d} p99 {_ms(latency):>8}   failed {len(failed)}"
            )
        return lines


async def collect(
    stack: ChaosStack,
    load: UploadLoad,
    probes: FailoverProbes,
    outbox: OutboxWatch,
    faults: Sequence[FaultRecord],
    *,
    started: float,
    drain_within: float,
) -> Figures:
    """Wait (up to `drain_within` seconds) for every accepted upload to end and be e-mailed about, then count."""
    accepted = {u.video_id for u in load.uploads if u.accepted}
    deadline = time.monotonic() + drain_within
    states: dict[str, dict[str, Any]] = {}
    while True:
        states = await _states(load, accepted)
        ended = [vid for vid, s in states.items() if s.get("status") in TERMINAL]
        mailed = {_video_of(m) for m in stack.mail.messages}
        if (len(ended) == len(accepted) and mailed >= set(ended)) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    await asyncio.sleep(2)  # a late second copy of an e-mail or ZIP would land now
    failovers = [
        Failover(f.name, probes.longest_silence(hit, until))
        for f in faults
        if f.name in BROKER_FAULTS
        for hit, until in itertools.pairwise([*f.broker_hits, f.ended + 5])
    ]
    return Figures(
        seconds=time.monotonic() - started,
        faults=list(faults),
        uploads=list(load.uploads),
        states=states,
        zip_writes=await _zip_writes(stack),
        emails=list(stack.mail.messages),
        failovers=failovers,
        outbox_max_lag=outbox.max_lag,
        outbox_samples=outbox.samples,
    )


async def _states(load: UploadLoad, accepted: set[str | None]) -> dict[str, dict[str, Any]]:
    lists = await asyncio.gather(*(api.videos() for api in load.apis), return_exceptions=True)
    states: dict[str, dict[str, Any]] = {}
    for videos in lists:
        if isinstance(videos, BaseException):
            continue
        states.update({v["id"]: v for v in videos if v["id"] in accepted})
    for vid in accepted:
        if vid is not None:
            states.setdefault(vid, {"status": "unknown"})
    return states


async def _zip_writes(stack: ChaosStack) -> dict[str, int]:
    """Distinct contents written under every result key. A ZIP made again differs (its entries carry the frames'
    times); the same bytes stored twice are one result whose request was repeated (S3 stored it, the answer was
    cut off with the connection, the client sent it again), which nobody downloading it can tell apart."""
    contents: dict[str, set[str]] = {}
    async with stack.s3_client() as s3:
        paginator = s3.get_paginator("list_object_versions")
        async for page in paginator.paginate(Bucket=BUCKET, Prefix="results/"):
            for version in page.get("Versions", []):
                key = version["Key"].removeprefix("results/").removesuffix(".zip")
                contents.setdefault(key, set()).add(version["ETag"])
    return {key: len(etags) for key, etags in contents.items()}


def _video_of(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    found = VIDEO_LINK.search(text)
    return found.group(1) if found else ""


def _kind_of(message: EmailMessage) -> str:
    return "done" if str(message["Subject"]).startswith("Your frames are ready") else "failed"


def percentile(values: Sequence[float], pct: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))]


def _codes(codes: Counter[str]) -> str:
    return (": " + ", ".join(f"{code} {n}" for code, n in codes.most_common())) if codes else ""


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"


def _clock(seconds: float) -> str:
    return f"{int(seconds // 60)}:{int(seconds % 60):02d}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


def _ratio(a: float | None, b: float | None) -> str:
    return "-" if a is None or not b else f"{a / b:.1f}x"
