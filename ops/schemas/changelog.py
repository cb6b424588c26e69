"""The contract's versioning rules and its changelog: what every generated document states about how the
contract evolves, and the release each type arrived or changed in. The last release is the contract's version
(contracts/version.py; a test checks)."""

from __future__ import annotations

from dataclasses import dataclass

VERSIONING_RULES = (
    "The major version is part of the type (`video.uploaded.v1`); the type is also the routing key.",
    "Within a version, only optional fields may be added. Nothing is removed, renamed, retyped or narrowed, "
    "and no field becomes required.",
    "A breaking change is a new type (`….v2`), published alongside the old one for a deprecation window.",
    "Consumers must ignore fields they do not know, in the envelope and in `data`.",
    "An enum marked `x-extensible-enum` may gain values in a minor version. A consumer parks an event with a value "
    "it does not know (it is not lost: it is processed once the consumer is upgraded), and producers send a new "
    "value only once every consumer of the type knows it: consumers are deployed first.",
)


@dataclass(frozen=True)
class Release:
    version: str
    date: str
    title: str
    types: tuple[str, ...]


# The event types of the first release, which 1.3.0 changed all at once.
FIRST_TYPES = (
    "auth.user.registered.v1",
    "video.uploaded.v1",
    "video.processing.started.v1",
    "video.processing.progress.v1",
    "video.processed.v1",
    "video.failed.v1",
    "video.deleted.v1",
    "notification.sent.v1",
)

CHANGELOG: tuple[Release, ...] = (
    Release(
        version="1.0.0",
        date="2026-11-28",
        title="v1: initial contract",
        types=FIRST_TYPES,
    ),
    Release(
        version="1.1.0",
        date="2026-11-28",
        title="Optional `filename` on video outcomes, so a notification can name the video without a lookup",
        types=("video.processed.v1", "video.failed.v1"),
    ),
    Release(
        version="1.2.0",
        date="2026-12-05",
        title="Optional `previews` on `video.processed.v1`: small images of the first frames for a page to show",
        types=("video.processed.v1",),
    ),
    Release(
        version="1.3.0",
        date="2026-12-05",
        title="Optional `traceparent` and `tracestate` on every envelope (the CloudEvents distributed-tracing "
        "extension) and their `ce-` AMQP headers, so one trace follows an upload to its e-mail",
        types=FIRST_TYPES,
    ),
    Release(
        version="1.4.0",
        date="2026-12-05",
        title="Webhooks: a delivery that gave up, and an endpoint disabled after failing for days",
        types=("webhook.delivery.failed.v1", "webhook.endpoint.disabled.v1"),
    ),
    Release(
        version="1.4.1",
        date="2026-12-05",
        title="Documents where a video's objects are (`sources/{owner_id}/{video_id}`, `results/{video_id}.zip`, "
        "`results/previews/{video_id}/{n}.jpg`): consumers park an event naming any other object",
        types=("video.uploaded.v1", "video.processed.v1"),
    ),
    Release(
        version="1.5.0",
        date="2026-12-05",
        title="Account lifecycle: revoked access tokens (sign-out, password change) and deleted accounts",
        types=("auth.token.revoked.v1", "auth.user.deleted.v1"),
    ),
    Release(
        version="1.6.0",
        date="2026-12-05",
        title="Extraction options on `video.uploaded.v1`: `mode` (interval, keyframes, scenes), `count`, a "
        "`start_seconds`/`end_seconds` range, `width`/`height` to fit, JPEG/WebP `quality`, the `webp` format, "
        "`scene_threshold`, `max_frames`, `skip_black_start` and a `storyboard`",
        types=("video.uploaded.v1",),
    ),
    Release(
        version="1.7.0",
        date="2026-12-06",
        title="`video.segment.requested.v1`: a long video is split into segments that several processor workers "
        "extract side by side, gathered into one ZIP",
        types=("video.segment.requested.v1",),
    ),
)
