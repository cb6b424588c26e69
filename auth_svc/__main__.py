"""Run auth_svc: `python -m auth_svc`."""

from __future__ import annotations

from aiohttp import web

from auth_svc.app import SERVICE, create_app
from auth_svc.settings import Settings
from servicekit.logging import configure_logging


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format, service=SERVICE)
    web.run_app(create_app(settings), host=settings.http_host, port=settings.http_port, access_log=None)


if __name__ == "__main__":
    main()
