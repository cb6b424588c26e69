"""webapp settings: the port, and the services it routes to when it is the gateway of `framepipe dev` (in Compose
and Kubernetes the proxy and the Ingress route before it, and it serves the page alone)."""

from __future__ import annotations

from pydantic import Field

from servicekit.settings import BaseServiceSettings
from webapp.routes import SERVICES, Target


class Settings(BaseServiceSettings):
    http_port: int = 8080
    # Base URLs, comma-separated (several replicas are taken in turn); empty: the service is not routed here.
    upstream_auth: str = ""
    upstream_video: str = ""
    upstream_notify: str = ""
    upstream_webhook: str = ""
    upstream_connect_timeout_seconds: float = Field(default=5.0, gt=0)

    def upstreams(self) -> dict[Target, tuple[str, ...]]:
        configured = {
            "auth": self.upstream_auth,
            "video": self.upstream_video,
            "notify": self.upstream_notify,
            "webhook": self.upstream_webhook,
        }
        urls: dict[Target, tuple[str, ...]] = {}
        for service in SERVICES:
            listed = tuple(u.strip().rstrip("/") for u in configured[service].split(",") if u.strip())
            if listed:
                urls[service] = listed
        return urls
