"""Revoked access tokens, end to end over the bus: auth_svc and video_svc (a service that never calls auth_svc) run
on one broker; a token signed out at auth_svc, or made stale by a password change, is refused by both with 401
`token_revoked`, also by a video_svc replica started after the revocation; tokens issued afterwards work."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from ops.dev.localinfra import LocalS3
from servicekit.sessions import COOKIE
from tests.integration.auth.harness import (
    PASSWORD,
    SAME_ORIGIN,
    auth_client,
    auth_settings,
    bearer,
    code_of,
    cookies_of,
    log_in,
    new_email,
    refused_by_video,
    register,
    sign_in,
)
from tests.integration.video.harness import VideoService, running_video_service, video_settings
from tests.support.polling import eventually
from tests.support.tokens import JwtKeys

NEW_PASSWORD = "battery staple horse"


@pytest.fixture(scope="module")
async def auth(database_url: str, amqp_url: str, jwt_keys: JwtKeys) -> AsyncIterator[TestClient[Any, Any]]:
    settings = auth_settings(
        database_url,
        amqp_url,
        jwt_keys,
        login_max_failures=3,
        login_account_max_failures=50,
        login_address_max_failures=1000,
    )
    async with auth_client(settings) as client:
        yield client


def video_fixture_settings(database_url: str, amqp_url: str, local_s3: LocalS3, jwt_keys: JwtKeys) -> Any:
    return video_settings(database_url=database_url, amqp_url=amqp_url, local_s3=local_s3, jwt_keys=jwt_keys)


@pytest.fixture(scope="module")
async def video(
    database_url: str, amqp_url: str, local_s3: LocalS3, jwt_keys: JwtKeys, token_for: Callable[..., str]
) -> AsyncIterator[VideoService]:
    settings = video_fixture_settings(database_url, amqp_url, local_s3, jwt_keys)
    async with running_video_service(settings, token_for) as service:
        yield service


async def new_user(auth: TestClient[Any, Any]) -> str:
    email = new_email()
    await register(auth, email)
    return email


async def test_a_signed_out_token_is_refused_by_auth_svc_and_by_video_svc(
    auth: TestClient[Any, Any], video: VideoService
) -> None:
    email = await new_user(auth)
    token = await log_in(auth, email)
    assert await code_of(video.client, "/video", bearer(token)) == 200

    response = await auth.post("/logout", headers=bearer(token))
    assert response.status == 204

    assert await code_of(auth, "/me", bearer(token)) == "token_revoked"  # at once, on the replica that revoked it
    await eventually(lambda: refused_by_video(video, bearer(token)))  # the other service, through the bus
    again = await auth.post("/logout", headers=bearer(token))
    assert again.status == 401
    assert (await again.json())["code"] == "token_revoked"

    fresh = await log_in(auth, email)
    assert await code_of(auth, "/me", bearer(fresh)) == 200
    assert await code_of(video.client, "/video", bearer(fresh)) == 200


async def test_logout_needs_a_token(auth: TestClient[Any, Any]) -> None:
    response = await auth.post("/logout")
    assert response.status == 401
    assert (await response.json())["code"] == "missing_token"
    forged = await auth.post("/logout", headers=bearer("not.a.token"))
    assert forged.status == 401
    assert (await forged.json())["code"] == "invalid_token"


async def test_signing_a_browser_out_revokes_its_session_token_everywhere(
    auth: TestClient[Any, Any], video: VideoService
) -> None:
    email = await new_user(auth)
    token = cookies_of(await sign_in(auth, email))[COOKIE].value
    cookie = {"Cookie": f"{COOKIE}={token}"}
    assert await code_of(video.client, "/video", cookie) == 200

    response = await auth.delete("/session", headers={**cookie, **SAME_ORIGIN})
    assert response.status == 204

    await eventually(lambda: refused_by_video(video, cookie))
    assert await code_of(auth, "/session", cookie) == "token_revoked"


async def test_a_replica_started_after_the_revocation_still_refuses_the_token(
    auth: TestClient[Any, Any],
    video: VideoService,
    database_url: str,
    amqp_url: str,
    local_s3: LocalS3,
    jwt_keys: JwtKeys,
    token_for: Callable[..., str],
) -> None:
    email = await new_user(auth)
    revoked, kept = await log_in(auth, email), await log_in(auth, email)
    assert (await auth.post("/logout", headers=bearer(revoked))).status == 204
    await eventually(lambda: refused_by_video(video, bearer(revoked)))  # the revocation is on the stream

    settings = video_fixture_settings(database_url, amqp_url, local_s3, jwt_keys)
    async with running_video_service(settings, token_for) as late:
        # No waiting: a replica answers only once it has read the revocations still in force.
        assert await code_of(late.client, "/video", bearer(revoked)) == "token_revoked"
        assert await code_of(late.client, "/video", bearer(kept)) == 200


async def test_a_password_change_revokes_every_other_token_and_the_new_password_is_the_one(
    auth: TestClient[Any, Any], video: VideoService
) -> None:
    email = await new_user(auth)
    this_device, other_device = await log_in(auth, email), await log_in(auth, email)

    response = await auth.post(
        "/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        headers=bearer(this_device),
    )
    assert response.status == 200, await response.text()
    fresh = (await response.json())["access_token"]

    for old in (this_device, other_device):
        assert await code_of(auth, "/me", bearer(old)) == "token_revoked"
        await eventually(lambda old=old: refused_by_video(video, bearer(old)))
    assert await code_of(auth, "/me", bearer(fresh)) == 200
    assert await code_of(video.client, "/video", bearer(fresh)) == 200

    old_login = await auth.post("/login", json={"email": email, "password": PASSWORD})
    assert old_login.status == 401
    after = await log_in(auth, email, NEW_PASSWORD)  # possibly in the very second of the change
    assert await code_of(auth, "/me", bearer(after)) == 200
    assert await code_of(video.client, "/video", bearer(after)) == 200


async def test_a_wrong_current_password_changes_nothing_and_is_throttled(auth: TestClient[Any, Any]) -> None:
    email = await new_user(auth)
    token = await log_in(auth, email)
    wrong = {"current_password": "not the password", "new_password": NEW_PASSWORD}
    for _ in range(3):
        response = await auth.post("/password", json=wrong, headers=bearer(token))
        assert response.status == 403
        assert (await response.json())["code"] == "wrong_password"
    throttled = await auth.post("/password", json=wrong, headers=bearer(token))
    assert throttled.status == 429
    assert (await throttled.json())["code"] == "too_many_attempts"
    assert "Retry-After" in throttled.headers
    assert await code_of(auth, "/me", bearer(token)) == 200  # still signed in, password unchanged


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"current_password": PASSWORD, "new_password": "short"}, 422),
        ({"current_password": PASSWORD}, 422),
        ({"current_password": PASSWORD, "new_password": NEW_PASSWORD, "extra": 1}, 422),
        ({"current_password": 1, "new_password": NEW_PASSWORD}, 422),
        ([], 422),
    ],
)
async def test_a_bad_password_change_is_answered_not_crashed_on(
    auth: TestClient[Any, Any], body: Any, status: int
) -> None:
    token = await log_in(auth, await new_user(auth))
    response = await auth.post("/password", json=body, headers=bearer(token))
    assert response.status == status
    assert response.content_type == "application/problem+json"
    assert await code_of(auth, "/me", bearer(token)) == 200


async def test_a_browser_changing_its_password_gets_a_fresh_session(auth: TestClient[Any, Any]) -> None:
    email = await new_user(auth)
    token = cookies_of(await sign_in(auth, email))[COOKIE].value
    cookie = {"Cookie": f"{COOKIE}={token}"}
    body = {"current_password": PASSWORD, "new_password": NEW_PASSWORD}
    assert (await auth.post("/password", json=body, headers=cookie)).status == 403  # not from our page

    response = await auth.post("/password", json=body, headers={**cookie, **SAME_ORIGIN})
    assert response.status == 204
    fresh = cookies_of(response)[COOKIE].value
    assert await code_of(auth, "/session", {"Cookie": f"{COOKIE}={fresh}"}) == 200
    assert await code_of(auth, "/session", cookie) == "token_revoked"


async def test_tokens_of_other_users_are_not_touched(auth: TestClient[Any, Any], video: VideoService) -> None:
    bystander = await log_in(auth, await new_user(auth))
    token = await log_in(auth, await new_user(auth))
    await auth.post("/password", json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                    headers=bearer(token))  # fmt: skip
    await eventually(lambda: refused_by_video(video, bearer(token)))
    assert await code_of(video.client, "/video", bearer(bystander)) == 200
    assert await code_of(auth, "/me", bearer(bystander)) == 200
    assert uuid.UUID(str((await (await auth.get("/me", headers=bearer(bystander))).json())["id"]))
