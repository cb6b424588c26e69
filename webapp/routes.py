"""The one origin: which paths go to which service. The gateway of `framepipe dev` routes by this table; the
Compose proxy (deploy/compose/nginx.conf) and the Kubernetes Ingress (deploy/k8s/base/ingress.yaml) route the same
paths, and a test holds them to it. Paths are never rewritten: every service serves its own paths."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Target = Literal["auth", "video", "notify", "webhook", "web"]
SERVICES: tuple[Target, ...] = ("auth", "video", "notify", "webhook")


@dataclass(frozen=True)
class Route:
    path: str
    # `prefix` as Kubernetes means it: the path itself and everything below it (`/video`, `/video/…`), by whole
    # path segments (not `/videos`).
    match: Literal["exact", "prefix"]
    target: Target


ROUTES: tuple[Route, ...] = (
    Route("/register", "exact", "auth"),
    Route("/login", "exact", "auth"),
    Route("/me", "exact", "auth"),
    Route("/logout", "exact", "auth"),
    Route("/password", "exact", "auth"),
    Route("/account", "exact", "auth"),
    Route("/session", "prefix", "auth"),
    Route("/.well-known", "prefix", "auth"),
    Route("/openapi/auth.json", "exact", "auth"),
    Route("/video", "prefix", "video"),
    Route("/openapi/video.json", "exact", "video"),
    Route("/notifications", "prefix", "notify"),
    Route("/openapi/notify.json", "exact", "notify"),
    Route("/webhooks", "prefix", "webhook"),
    Route("/openapi/webhook.json", "exact", "webhook"),
    Route("/", "exact", "web"),
    Route("/app", "prefix", "web"),
)


def target_of(path: str) -> Target | None:
    """Where a request for `path` goes, or None (the origin answers 404)."""
    for route in ROUTES:
        if path == route.path or (route.match == "prefix" and path.startswith(route.path.rstrip("/") + "/")):
            return route.target
    return None
