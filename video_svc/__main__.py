"""Run video_svc: `python -m video_svc`."""

from __future__ import annotations

from servicekit.runtime import serve
from video_svc.app import create_app
from video_svc.settings import Settings


def main() -> None:
    serve("video_svc", Settings(), create_app)


if __name__ == "__main__":
    main()
