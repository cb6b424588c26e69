"""What to tell a person for each API error: the server's own `detail`, plus what to do next."""

from __future__ import annotations

import argparse

from ops.client.api import ApiError


def explain(error: ApiError, args: argparse.Namespace) -> str:
    video_id = getattr(args, "video_id", None)
    message = _by_code(error, video_id) or _by_status(error, video_id)
    return f"{message} [{error.code}]" if error.status else message


def _by_code(error: ApiError, video_id: str | None) -> str | None:
    if error.code == "not_logged_in":
        return "you are not logged in: run `framepipe client login --email YOU`"
    if error.code == "invalid_credentials":
        return "wrong e-mail or password"
    if error.code == "email_taken":
        return "that e-mail is already registered: log in instead"
    if error.code == "not_ready":
        status = error.extra.get("video_status")
        state = f" (status: {status})" if status else ""
        return f"video {video_id} is not ready yet{state}: try `framepipe client status {video_id} --watch`"
    return None


def _by_status(error: ApiError, video_id: str | None) -> str:
    status, detail = error.status, error.detail
    if status == 0:
        return f"{detail}. Is framepipe running (`make run`), and are the URLs right (--url, --video-url…)?"
    if status == 401:
        return f"{detail}. Your session is missing or expired: run `framepipe client login --email YOU`"
    if status == 404:
        return f"video {video_id} not found (or it is not yours)" if video_id else f"not found: {detail}"
    if status == 409:
        return f"conflict: {detail}"
    if status == 413:
        return f"file too large: {detail}"
    if status == 415:
        return f"not a supported video: {detail}"
    if status in (400, 422):
        return f"rejected: {_fields(error) or detail}"
    if status == 429:
        wait = f" in {error.retry_after} s" if error.retry_after else " later"
        return f"too many attempts: {detail}. Try again{wait}"
    if status >= 500:
        request_id = error.extra.get("request_id")
        return f"server error ({status}): {detail}" + (f" (request id {request_id})" if request_id else "")
    return f"{status}: {detail}"


def _fields(error: ApiError) -> str:
    errors = error.extra.get("errors")
    if not isinstance(errors, list):
        return ""
    described = [f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict)]
    return "; ".join(described)
