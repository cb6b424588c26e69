"""HTTP: parse and validate, call the use cases, render; domain errors become problem+json here."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from aiohttp import web
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from auth_svc import schemas, service
from auth_svc.service import (
    Accounts,
    EmailTaken,
    InvalidCredentials,
    IssuedToken,
    SessionTooOld,
    TooManyAttempts,
    TooManyRegistrations,
    UnknownUser,
)
from auth_svc.settings import Settings
from auth_svc.store import User
from servicekit.http import Problem, add_problems, client_of, correlation_id, parse_json
from servicekit.problems import ProblemTable, ProblemType
from servicekit.sessions import check_same_origin, set_session_cookie
from servicekit.tokens import BEARER_CHALLENGE, INVALID_TOKEN, TOKEN_VERIFIER, Claims, authenticated_user

ACCOUNTS = web.AppKey("accounts", Accounts)
SETTINGS = web.AppKey("auth_settings", Settings)

# A deliberately plain check (no DNS, ASCII only): dot-atom local part, then at least two domain labels and
# an alphabetic top-level domain.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL_PATTERN = re.compile(rf"^{_ATOM}(?:\.{_ATOM})*@(?:{_LABEL}\.)+[A-Za-z]{{2,63}}$")


def normalise_email(value: str) -> str:
    email = value.strip().lower()
    local, _, _ = email.partition("@")
    if len(email) > 254 or len(local) > 64 or not EMAIL_PATTERN.match(email):
        raise ValueError("not a valid e-mail address")
    return email


def _blank_to_none(value: str | None) -> str | None:
    return (value.strip() or None) if value is not None else None


# The document says what normalise_email lets through (at most 254 characters, an address); the model reads more.
Email = Annotated[
    str,
    StringConstraints(min_length=1, max_length=320),
    AfterValidator(normalise_email),
    Field(json_schema_extra={"format": "email", "maxLength": 254}),
]
Name = Annotated[
    Annotated[str, StringConstraints(max_length=200)] | None,
    AfterValidator(_blank_to_none),
    Field(description="Blank is stored as null."),
]


Password = Annotated[str, StringConstraints(min_length=8, max_length=1024)]  # the rules of a new password


class RegisterRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    email: Email
    password: Password
    name: Name = None


class LoginRequest(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


def _user_answer(user: User) -> schemas.User:
    return schemas.User(id=user.id, email=user.email, name=user.name, created_at=user.created_at)


async def register(request: web.Request) -> web.Response:
    body = await parse_json(request, RegisterRequest)
    user = await service.register(
        request.app[ACCOUNTS], body.email, body.password, body.name, correlation_id(request), client_of(request)
    )
    return web.json_response(_user_answer(user).model_dump(mode="json"), status=201)


async def login(request: web.Request) -> web.Response:
    return token_response(await _log_in(request))


def token_response(issued: IssuedToken) -> web.Response:
    token = schemas.Token(access_token=issued.access_token, token_type="Bearer", expires_in=issued.expires_in)  # noqa: S106
    return web.json_response(token.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


async def _log_in(request: web.Request) -> IssuedToken:
    body = await parse_json(request, LoginRequest)
    address = client_of(request)  # X-Forwarded-For only through TRUSTED_PROXIES
    return await service.login(request.app[ACCOUNTS], body.email, body.password, address)


async def _current_user(request: web.Request, claims: Claims) -> User:
    return await service.current_user(request.app[ACCOUNTS], claims.user_id)


async def me(request: web.Request) -> web.Response:
    user = await _current_user(request, authenticated_user(request))
    return web.json_response(_user_answer(user).model_dump(mode="json"))


def _session(user: User, expires_at: int, expires_in: int) -> dict[str, Any]:
    answer = schemas.Session(
        user=_user_answer(user), expires_at=datetime.fromtimestamp(expires_at, UTC), expires_in=expires_in
    )
    rendered: dict[str, Any] = answer.model_dump(mode="json")
    return rendered


def _session_response(request: web.Request, issued: IssuedToken, expires_at: int) -> web.Response:
    """The session's user and lifetime; the token itself only in the cookie, out of the page's reach."""
    body = _session(issued.user, expires_at, issued.expires_in)
    response = web.json_response(body, headers={"Cache-Control": "no-store"})
    settings = request.app[SETTINGS]
    set_session_cookie(response, request, issued.access_token, issued.expires_in, settings.session_cookie_secure)
    return response


async def start_session(request: web.Request) -> web.Response:
    """Sign a browser in: the login, answered with a session cookie instead of a token in the body."""
    check_same_origin(request)  # no other site may sign a browser into an account of its choosing
    issued = await _log_in(request)
    return _session_response(request, issued, int(time.time()) + issued.expires_in)


async def refresh_session(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    settings = request.app[SETTINGS]
    issued = await service.refresh_session(request.app[ACCOUNTS], claims, settings.session_max_seconds)
    return _session_response(request, issued, int(time.time()) + issued.expires_in)


async def current_session(request: web.Request) -> web.Response:
    claims = authenticated_user(request)
    user = await _current_user(request, claims)
    body = _session(user, claims.expires_at, max(0, claims.expires_at - int(time.time())))
    return web.json_response(body, headers={"Cache-Control": "no-store"})


async def jwks(request: web.Request) -> web.Response:
    return web.json_response(request.app[TOKEN_VERIFIER].jwks(), headers={"Cache-Control": "public, max-age=300"})


def _throttled(problem: ProblemType) -> Callable[[TooManyAttempts], Problem]:
    return lambda e: problem(headers={"Retry-After": str(e.retry_after)}, retry_after=e.retry_after)


PROBLEMS: ProblemTable = {
    EmailTaken: ProblemType(409, "email_taken", "An account with this e-mail already exists."),
    TooManyRegistrations: _throttled(
        ProblemType(429, "too_many_registrations", "Too many accounts created from this address; try again later.")
    ),
    TooManyAttempts: _throttled(ProblemType(429, "too_many_attempts", "Too many failed logins; try again later.")),
    InvalidCredentials: ProblemType(
        401, "invalid_credentials", "The e-mail or password is wrong.", headers=BEARER_CHALLENGE
    ),
    SessionTooOld: ProblemType(401, "session_expired", "The session is too old; sign in again."),
    UnknownUser: INVALID_TOKEN,
}


def add_routes(app: web.Application) -> None:
    add_problems(app, PROBLEMS)
    app.router.add_post("/register", register)
    app.router.add_post("/login", login)
    app.router.add_get("/me", me)
    app.router.add_post("/session", start_session)
    app.router.add_get("/session", current_session)
    app.router.add_post("/session/refresh", refresh_session)
    app.router.add_get("/.well-known/jwks.json", jwks)
