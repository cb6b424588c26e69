"""`python -m processor_svc`: read the settings once, configure logging, serve until SIGTERM."""

from __future__ import annotations

from processor_svc.app import SERVICE, create_app
from processor_svc.settings import Settings
from servicekit.runtime import serve


def main() -> None:
    serve(SERVICE, Settings(), create_app)


if __name__ == "__main__":
    main()
