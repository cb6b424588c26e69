"""Browser sessions: the access token travels in a cookie that auth_svc sets (HttpOnly, so page scripts never
hold it; SameSite=Strict; Secure and `__Host-`-prefixed over HTTPS), and every service accepts it beside the
`Authorization: Bearer` header that programs use (docs/decisions/0009).

A request authenticated by the cookie that changes something must come from our own page: the browser's
`Sec-Fetch-Site` says so, or, from browsers that do not send it, an `Origin` equal to the request's host.
SameSite=Strict already keeps other sites' requests from carrying the cookie; this also covers sibling
subdomains, which count as the same site."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from aiohttp import web

from servicekit.problems import Problem

COOKIE = "framepipe_session"
SECURE_COOKIE = "__Host-framepipe_session"  # the prefix makes browsers refuse it unless Secure, Path=/, no Domain
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CookieSecurity = Literal["auto", "always", "never"]


def session_token(request: web.Request) -> str | None:
    return request.cookies.get(SECURE_COOKIE) or request.cookies.get(COOKIE) or None


def carries_credentials(request: web.Request) -> bool:
    return "Authorization" in request.headers or session_token(request) is not None


def served_over_https(request: web.Request) -> bool:
    """Whether the browser reached us over HTTPS: directly, or through a proxy that terminated TLS. A forged
    `X-Forwarded-Proto: https` only makes the forger's own cookie stricter."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.scheme == "https" or forwarded == "https"


def set_session_cookie(
    response: web.StreamResponse, request: web.Request, token: str, max_age: int, security: CookieSecurity
) -> None:
    secure = security == "always" or (security == "auto" and served_over_https(request))
    name = SECURE_COOKIE if secure else COOKIE
    response.set_cookie(name, token, max_age=max_age, path="/", secure=secure, httponly=True, samesite="Strict")
    # A session started over the other scheme must not outlive this one.
    response.del_cookie(COOKIE if secure else SECURE_COOKIE, path="/")


def clear_session_cookie(response: web.StreamResponse) -> None:
    for name in (COOKIE, SECURE_COOKIE):
        response.set_cookie(
            name, "", max_age=0, path="/", secure=name == SECURE_COOKIE, httponly=True, samesite="Strict"
        )


def check_same_origin(request: web.Request) -> None:
    """Refuse (403) a request that a browser did not send from a page of this origin."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None:
        if site == "same-origin":
            return
    else:
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc.lower() == request.host.lower():
            return
    raise Problem(
        403,
        "cross_origin_request",
        "This request did not come from a framepipe page.",
        "Requests authenticated by the session cookie must come from the same origin; programs send a bearer token.",
    )
