"""HTTP for the account's life after sign-in: sign out (`POST /logout`, and `DELETE /session` for the web app),
change the password (`POST /password`) and delete the account (`DELETE /account`)."""

from __future__ import annotations

from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, StringConstraints

from auth_svc import lifecycle
from auth_svc.api import ACCOUNTS, SETTINGS, Password, token_response
from auth_svc.lifecycle import WrongPassword
from auth_svc.schemas import AccountDeleted
from servicekit.http import add_problems, client_of, correlation_id, parse_json
from servicekit.problems import ProblemTable, ProblemType
from servicekit.sessions import check_same_origin, clear_session_cookie, session_token, set_session_cookie
from servicekit.tokens import TOKEN_VERIFIER, Claims, InvalidToken, authenticated_user

CurrentPassword = Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class PasswordChange(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    current_password: CurrentPassword
    new_password: Password  # the rules of registration


class AccountDeletion(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    password: CurrentPassword


async def logout(request: web.Request) -> web.Response:
    """Revoke the presented token (bearer, or the session cookie) everywhere until it expires."""
    claims = authenticated_user(request)
    await lifecycle.sign_out(request.app[ACCOUNTS], claims, correlation_id(request))
    response = web.Response(status=204, headers={"Cache-Control": "no-store"})
    if "Authorization" not in request.headers:
        clear_session_cookie(response)
    return response


async def end_session(request: web.Request) -> web.Response:
    """Sign the browser out: the cookie is cleared and its token revoked. A token that no longer verifies (expired,
    revoked already) has nothing left to revoke, and the cookie is cleared all the same."""
    token = session_token(request)
    if token is not None:
        check_same_origin(request)
        claims = _verified_or_none(request, token)
        if claims is not None:
            await lifecycle.sign_out(request.app[ACCOUNTS], claims, correlation_id(request))
    response = web.Response(status=204, headers={"Cache-Control": "no-store"})
    clear_session_cookie(response)
    return response


def _verified_or_none(request: web.Request, token: str) -> Claims | None:
    try:
        return request.app[TOKEN_VERIFIER].verify(token)
    except InvalidToken:
        return None


async def change_password(request: web.Request) -> web.Response:
    """204 with a fresh session cookie for the web app; for a bearer caller, 200 with a fresh token as /login
    answers. Every other token of the user is revoked."""
    claims = authenticated_user(request)
    body = await parse_json(request, PasswordChange)
    accounts = request.app[ACCOUNTS]
    issued = await lifecycle.change_password(
        accounts, claims, body.current_password, body.new_password, client_of(request), correlation_id(request)
    )
    if "Authorization" in request.headers:
        return token_response(issued)
    response = web.Response(status=204, headers={"Cache-Control": "no-store"})
    security = request.app[SETTINGS].session_cookie_secure
    set_session_cookie(response, request, issued.access_token, issued.expires_in, security)
    return response


async def delete_account(request: web.Request) -> web.Response:
    """202: the account is gone here; the other services delete the user's videos, objects, recipient record and
    webhook endpoints when `auth.user.deleted.v1` reaches them."""
    claims = authenticated_user(request)
    body = await parse_json(request, AccountDeletion)
    deleted_at = await lifecycle.delete_account(
        request.app[ACCOUNTS], claims, body.password, client_of(request), correlation_id(request)
    )
    body_out = AccountDeleted(user_id=claims.user_id, deleted_at=deleted_at)
    response = web.json_response(body_out.model_dump(mode="json"), status=202, headers={"Cache-Control": "no-store"})
    clear_session_cookie(response)
    return response


# A wrong password is 403, not 401: the session is still valid, only the confirmation failed.
PROBLEMS: ProblemTable = {
    WrongPassword: ProblemType(403, "wrong_password", "The password is wrong.", "Give the account's current password.")
}


def add_routes(app: web.Application) -> None:
    add_problems(app, PROBLEMS)
    app.router.add_post("/logout", logout)
    app.router.add_delete("/session", end_session)
    app.router.add_post("/password", change_password)
    app.router.add_delete("/account", delete_account)
