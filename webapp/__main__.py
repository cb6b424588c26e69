"""`python -m webapp`: serve the web app (and, with upstreams configured, the gateway in front of the services)."""

from servicekit.runtime import serve
from webapp.app import SERVICE, create_app
from webapp.settings import Settings


def main() -> None:
    serve(SERVICE, Settings(), create_app)


if __name__ == "__main__":
    main()
