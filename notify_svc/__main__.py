"""Run notify_svc: `python -m notify_svc`."""

from __future__ import annotations

from notify_svc.app import SERVICE, create_app
from notify_svc.settings import Settings
from servicekit.runtime import serve


def main() -> None:
    serve(SERVICE, Settings(), create_app)


if __name__ == "__main__":
    main()
