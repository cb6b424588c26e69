"""What a user is told when a job fails: one fixed sentence per failure code, never a tool's words. ffmpeg's and
ffprobe's stderr name the job's directory and other internals; they go to the logs only."""

from __future__ import annotations

from contracts import FailureCode

# retries_exhausted is video_svc's to say: the processor never ends a job with it.
MESSAGES = {
    FailureCode.INVALID_MEDIA: "The file could not be read as a video: it may be damaged or incomplete.",
    FailureCode.UNSUPPORTED_FORMAT: "The file's format or video codec is not one we accept.",
    FailureCode.NO_VIDEO_STREAM: "The file has no video in it.",
    FailureCode.TOO_LONG: "The video is longer than we accept.",
    FailureCode.TOO_LARGE: "The video is over our size limits (picture size, frame count or size of the result).",
    FailureCode.TIMEOUT: "Processing the video took longer than we allow.",
}

# More precise fixed sentences for some failures of a code (MediaRejected.message).
RANGE_AFTER_END = "The requested start time is at or after the end of the video: there is nothing to extract."
