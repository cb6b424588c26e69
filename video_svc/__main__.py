"""Run video_svc: `python -m video_svc`."""

from __future__ import annotations

from aiohttp import web

from servicekit.logging import configure_logging
from video_svc.app import create_app
from video_svc.settings import Settings


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format, service="video_svc")
    web.run_app(create_app(settings), host=settings.http_host, port=settings.http_port, access_log=None)


if __name__ == "__main__":
    main()
