"""Names and shape of the broker topology. Declared by the services at startup (servicekit.bus.topology);
kept here so integrators and operator tools share the exact names."""

from __future__ import annotations

from dataclasses import dataclass, field

EVENTS_EXCHANGE = "framepipe.events"
DEAD_LETTER_EXCHANGE = "framepipe.dlx"
ARCHIVE_STREAM = "framepipe.archive"
ARCHIVE_MAX_AGE = "30D"
# Revoked access tokens, for every replica that verifies tokens: each reads it from the start when it starts (so
# a replica started late still refuses what was revoked before) and follows it from then on. Kept longer than the
# longest token lifetime (JWT_TTL_SECONDS is at most a day), after which a revocation no longer matters.
REVOCATIONS_STREAM = "framepipe.revocations"
REVOCATIONS_MAX_AGE = "2D"
REVOCATION_TYPES: tuple[str, ...] = ("auth.token.revoked.v1",)

PARKING_SUFFIX = ".dlq"
RETRY_SUFFIX = ".retry"


@dataclass(frozen=True)
class QueueSpec:
    """A quorum queue for one consumer purpose.

    `binds` are routing keys on the events exchange; `dead_letter_binds` are routing keys on the dead-letter
    exchange (the name of the queue a message died in), for queues that consume other queues' dead letters.
    `retry_delays_ms` are the backoff tiers: a transient failure waits in `<name>.retry.<i>` before it returns.
    `max_attempts` bounds handler attempts (retries included); `delivery_limit` bounds broker redeliveries
    (crashes, lost connections) before RabbitMQ dead-letters the message itself.
    """

    name: str
    owner: str
    binds: tuple[str, ...] = ()
    dead_letter_binds: tuple[str, ...] = ()
    delivery_limit: int = 5
    max_attempts: int = 6
    retry_delays_ms: tuple[int, ...] = (1_000, 5_000, 30_000, 120_000)
    description: str = ""
    extra_args: dict[str, object] = field(default_factory=dict)

    @property
    def parking_queue(self) -> str:
        return f"{self.name}{PARKING_SUFFIX}"

    def retry_queue(self, tier: int) -> str:
        return f"{self.name}{RETRY_SUFFIX}.{tier}"

    def retry_tier(self, attempt: int) -> int:
        """Backoff tier for the retry after the given (1-based) failed attempt."""
        return min(attempt, len(self.retry_delays_ms)) - 1


PROCESSOR_VIDEO_UPLOADED = QueueSpec(
    name="processor.video-uploaded",
    owner="processor_svc",
    binds=("video.uploaded.v1",),
    delivery_limit=3,
    max_attempts=4,
    retry_delays_ms=(2_000, 10_000, 30_000),
    description="Frame-extraction jobs.",
)
PROCESSOR_VIDEO_SEGMENTS = QueueSpec(
    name="processor.video-segments",
    owner="processor_svc",
    binds=("video.segment.requested.v1",),
    delivery_limit=3,
    max_attempts=4,
    retry_delays_ms=(2_000, 10_000, 30_000),
    description="Segments of long videos, each extracted by whichever worker takes it; the last one stored is "
    "gathered with the others into the video's ZIP.",
)
VIDEO_PROCESSING_UPDATES = QueueSpec(
    name="video.processing-updates",
    owner="video_svc",
    binds=(
        "video.processing.started.v1",
        "video.processing.progress.v1",
        "video.processed.v1",
        "video.failed.v1",
    ),
    description="Moves videos through uploaded → processing → done | failed.",
)
VIDEO_DEAD_JOBS = QueueSpec(
    name="video.dead-jobs",
    owner="video_svc",
    dead_letter_binds=(PROCESSOR_VIDEO_UPLOADED.name, PROCESSOR_VIDEO_SEGMENTS.name),
    description="Processing jobs and segments that were dead-lettered: the video is marked failed (retries_exhausted).",
)
VIDEO_DELETED_OBJECTS = QueueSpec(
    name="video.deleted-objects",
    owner="video_svc",
    binds=("video.deleted.v1",),
    max_attempts=10,
    retry_delays_ms=(5_000, 30_000, 120_000, 600_000),
    description="Removes a deleted video's source and ZIP from storage, retrying for about an hour while storage "
    "is unreachable (the DELETE request tries first; this makes the removal survive a storage outage).",
)
NOTIFY_VIDEO_OUTCOMES = QueueSpec(
    name="notify.video-outcomes",
    owner="notify_svc",
    binds=("video.processed.v1", "video.failed.v1"),
    max_attempts=8,
    retry_delays_ms=(1_000, 5_000, 15_000, 60_000),
    description="E-mails the owner once per outcome.",
)
NOTIFY_USER_DIRECTORY = QueueSpec(
    name="notify.user-directory",
    owner="notify_svc",
    binds=("auth.user.registered.v1",),
    description="notify_svc's projection of users (id → e-mail, name).",
)

VIDEO_USER_DELETIONS = QueueSpec(
    name="video.user-deletions",
    owner="video_svc",
    binds=("auth.user.deleted.v1",),
    description="Deletes every video of a deleted account (rows marked deleted, objects removed, one "
    "`video.deleted.v1` each, as the owner's own DELETE does).",
)
NOTIFY_DELETIONS = QueueSpec(
    name="notify.deletions",
    owner="notify_svc",
    binds=("auth.user.deleted.v1", "video.deleted.v1"),
    description="Forgets a deleted account's recipient record, and remembers deleted accounts and videos so "
    "that no outcome about them is e-mailed afterwards.",
)
WEBHOOK_USER_DELETIONS = QueueSpec(
    name="webhook.user-deletions",
    owner="webhook_svc",
    binds=("auth.user.deleted.v1",),
    description="Deletes a deleted account's webhook endpoints, their deliveries and kept events.",
)

# The events a webhook endpoint may subscribe to: the life of its owner's videos (every one carries `owner_id`).
WEBHOOK_EVENT_TYPES: tuple[str, ...] = (
    "video.uploaded.v1",
    "video.processing.started.v1",
    "video.processing.progress.v1",
    "video.processed.v1",
    "video.failed.v1",
    "video.deleted.v1",
)
WEBHOOK_EVENTS = QueueSpec(
    name="webhook.events",
    owner="webhook_svc",
    binds=WEBHOOK_EVENT_TYPES,
    max_attempts=8,
    retry_delays_ms=(1_000, 5_000, 15_000, 60_000),
    description="Keeps the events webhooks may subscribe to and queues one delivery per subscribed endpoint "
    "(the HTTP deliveries themselves are retried by webhook_svc, docs/decisions/0010).",
)
NOTIFY_WEBHOOK_ALERTS = QueueSpec(
    name="notify.webhook-alerts",
    owner="notify_svc",
    binds=("webhook.endpoint.disabled.v1",),
    max_attempts=8,
    retry_delays_ms=(1_000, 5_000, 15_000, 60_000),
    description="E-mails the owner of a webhook endpoint that was disabled after failing for days.",
)

QUEUES: dict[str, QueueSpec] = {
    spec.name: spec
    for spec in (
        PROCESSOR_VIDEO_UPLOADED,
        PROCESSOR_VIDEO_SEGMENTS,
        VIDEO_PROCESSING_UPDATES,
        VIDEO_DEAD_JOBS,
        VIDEO_DELETED_OBJECTS,
        NOTIFY_VIDEO_OUTCOMES,
        NOTIFY_USER_DIRECTORY,
        WEBHOOK_EVENTS,
        NOTIFY_WEBHOOK_ALERTS,
        VIDEO_USER_DELETIONS,
        NOTIFY_DELETIONS,
        WEBHOOK_USER_DELETIONS,
    )
}
