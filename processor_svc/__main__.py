"""`python -m processor_svc`: read the settings once, configure logging, serve until SIGTERM."""

from __future__ import annotations

from aiohttp import web

from processor_svc.app import SERVICE, create_app
from processor_svc.settings import Settings
from servicekit.logging import configure_logging


def main() -> None:
    settings = Settings()
    configure_logging(settings.log_level, settings.log_format, service=SERVICE)
    web.run_app(create_app(settings), host=settings.http_host, port=settings.http_port, print=None)


if __name__ == "__main__":
    main()
