"""Run webhook_svc: `python -m webhook_svc`."""

from __future__ import annotations

from servicekit.runtime import serve
from webhook_svc.app import SERVICE, create_app
from webhook_svc.settings import Settings


def main() -> None:
    serve(SERVICE, Settings(), create_app)


if __name__ == "__main__":
    main()
