"""The OpenAPI 3.1 document of auth_svc, served at /openapi.json: every endpoint, request, response and the
problem+json errors with their stable codes."""

from __future__ import annotations

from typing import Any

from auth_svc.account_api import AccountDeletion, PasswordChange
from auth_svc.api import LoginRequest, RegisterRequest
from auth_svc.schemas import JWKS, AccountDeleted, Alive, Session, Token, User
from servicekit.openapi import CHALLENGE, JSON_BODY, UNAUTHENTICATED, Answer, Operation, document
from servicekit.openapi_models import Readiness

_BODY_ERRORS: dict[int, str | tuple[str, dict[str, Any]]] = {
    **JSON_BODY,
    413: "`request_too_large`: the body is over 1 MiB.",
    422: "`validation_error`: a field is missing or invalid; `errors` names each field.",
}
_CROSS_ORIGIN = "`cross_origin_request`."
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}}
_TOKEN: list[dict[str, Any]] = [{"bearer": []}, {"session": []}]
_SESSION: list[dict[str, Any]] = [{"session": []}, {"bearer": []}]

_SIGN_IN = [
    Operation(
        "post",
        "/register",
        "Create an account; announces `auth.user.registered.v1`.",
        operation_id="register",
        body=RegisterRequest,
        answers={201: Answer("The new user.", User)},
        problems={
            **_BODY_ERRORS,
            409: "`email_taken`: an account with this e-mail (in any letter case) exists.",
            429: (
                "`too_many_registrations`: too many accounts made from this client address in the last hour.",
                _RETRY_AFTER,
            ),
        },
    ),
    Operation(
        "post",
        "/login",
        "Exchange e-mail and password for an access token.",
        operation_id="login",
        body=LoginRequest,
        answers={200: Answer("An access token.", Token)},
        problems={
            **_BODY_ERRORS,
            401: ("`invalid_credentials`: wrong password or unknown e-mail (indistinguishable).", CHALLENGE),
            429: (
                "`too_many_attempts`: too many failures for this account or client address.",
                {"Retry-After": {**_RETRY_AFTER["Retry-After"], "required": True}},
            ),
        },
    ),
    Operation(
        "get",
        "/me",
        "The user the access token belongs to.",
        operation_id="me",
        security=_TOKEN,
        answers={200: Answer("The current user.", User)},
        problems={401: UNAUTHENTICATED},
    ),
]

_SESSIONS = [
    Operation(
        "post",
        "/session",
        "Sign a browser in: the login, answered with an HttpOnly session cookie.",
        operation_id="startSession",
        description="Same checks and throttling as `/login`. Must come from a page of this origin "
        "(Sec-Fetch-Site: same-origin, or an Origin equal to the Host).",
        body=LoginRequest,
        answers={200: Answer("Signed in; `Set-Cookie` carries the session.", Session)},
        problems={
            **_BODY_ERRORS,
            401: ("`invalid_credentials`.", CHALLENGE),
            403: "`cross_origin_request`: not sent by a page of this origin.",
            429: "`too_many_attempts`.",
        },
    ),
    Operation(
        "get",
        "/session",
        "The session's user and expiry.",
        operation_id="currentSession",
        security=_SESSION,
        answers={200: Answer("The session.", Session)},
        problems={401: UNAUTHENTICATED},
    ),
    Operation(
        "delete",
        "/session",
        "Sign out: the session cookie is cleared and its token revoked on every service.",
        operation_id="endSession",
        answers={204: Answer("Signed out.")},
        problems={403: _CROSS_ORIGIN},
    ),
    Operation(
        "post",
        "/session/refresh",
        "A new session token, for as long as the session's maximum age since the password allows.",
        operation_id="refreshSession",
        security=_SESSION,
        answers={200: Answer("Refreshed; `Set-Cookie` carries the new token.", Session)},
        problems={
            401: ("`missing_token`, `invalid_token`, `token_revoked` or `session_expired`.", CHALLENGE),
            403: _CROSS_ORIGIN,
        },
    ),
]

_ACCOUNT = [
    Operation(
        "post",
        "/logout",
        "Revoke the presented access token on every service until it expires.",
        operation_id="logout",
        description="Other services learn it from `auth.token.revoked.v1` within moments; they then answer "
        "401 `token_revoked`. A session cookie presented instead of a bearer token is also cleared.",
        security=_TOKEN,
        answers={204: Answer("Revoked.")},
        problems={401: UNAUTHENTICATED, 403: _CROSS_ORIGIN},
    ),
    Operation(
        "post",
        "/password",
        "Change the password; every other token of the user is revoked.",
        operation_id="changePassword",
        description="The current password is checked and throttled as logins are. A bearer caller gets a "
        "fresh token (200, as `/login` answers); a session caller gets a fresh session cookie (204).",
        security=_TOKEN,
        body=PasswordChange,
        answers={
            200: Answer("Changed (bearer caller): the fresh token.", Token),
            204: Answer("Changed (session caller): `Set-Cookie` carries the fresh session."),
        },
        problems={
            **_BODY_ERRORS,
            401: UNAUTHENTICATED,
            403: "`wrong_password`: the current password is wrong; or `cross_origin_request`.",
            429: "`too_many_attempts`: too many wrong passwords; `Retry-After` says when to retry.",
        },
    ),
    Operation(
        "delete",
        "/account",
        "Delete the account, confirmed with its password.",
        operation_id="deleteAccount",
        description="The user is deleted and every token revoked at once; the other services delete the "
        "user's videos and their files, the e-mail recipient record and the webhook endpoints when "
        "`auth.user.deleted.v1` reaches them (hence 202). The session cookie is cleared.",
        security=_TOKEN,
        body=AccountDeletion,
        answers={202: Answer("Deleted here; the rest follows.", AccountDeleted)},
        problems={
            **_BODY_ERRORS,
            401: UNAUTHENTICATED,
            403: "`wrong_password`, or `cross_origin_request`.",
            429: "`too_many_attempts`.",
        },
    ),
]

_OPERATIONAL = [
    Operation(
        "get",
        "/.well-known/jwks.json",
        "The public keys that verify access tokens, by `kid`.",
        operation_id="jwks",
        answers={200: Answer("JSON Web Key Set.", JWKS)},
    ),
    Operation(
        "get", "/healthz", "The process is alive.", operation_id="healthz", answers={200: Answer("Alive.", Alive)}
    ),
    Operation(
        "get",
        "/readyz",
        "The database and the broker are usable.",
        operation_id="readyz",
        answers={200: Answer("Ready.", Readiness), 503: Answer("A dependency is unavailable.", Readiness)},
    ),
    Operation(
        "get",
        "/metrics",
        "Prometheus metrics.",
        operation_id="metrics",
        answers={200: Answer("Prometheus text format.", media="text/plain", schema={})},
    ),
    Operation(
        "get",
        "/openapi.json",
        "This document.",
        operation_id="openapi",
        answers={200: Answer("OpenAPI 3.1 document.", schema={"type": "object"})},
    ),
]

OPENAPI_SPEC: dict[str, Any] = document(
    {
        "title": "framepipe auth_svc",
        "version": "1.0.0",
        "description": "Registration, login and RS256 access tokens that every framepipe service verifies locally.",
    },
    [*_SIGN_IN, *_SESSIONS, *_ACCOUNT, *_OPERATIONAL],
    security=[],
)
