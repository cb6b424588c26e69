"""Run auth_svc: `python -m auth_svc`."""

from __future__ import annotations

from auth_svc.app import SERVICE, create_app
from auth_svc.settings import Settings
from servicekit.runtime import serve


def main() -> None:
    serve(SERVICE, Settings(), create_app)


if __name__ == "__main__":
    main()
