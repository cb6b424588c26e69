"""webhook_svc's pure rules: Standard Webhooks signatures (against the specification's published example), which
addresses and URLs may be targets, and the retry schedule."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime

import pytest

from webhook_svc.egress import AddressPolicy, InvalidUrl, TargetRefused, check_url
from webhook_svc.sender import AttemptResult
from webhook_svc.service import next_step
from webhook_svc.settings import DEFAULT_RETRY_SCHEDULE, parse_schedule
from webhook_svc.signing import new_secret, sign, verify, webhook_headers

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_BODY = b'{"test": 2432232314}'


def test_the_signature_matches_the_example_of_the_standard_webhooks_specification() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, 1614265330, SPEC_BODY) == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_verification_wants_a_fresh_timestamp_and_any_one_matching_v1_signature() -> None:
    secret, other = new_secret(), new_secret()
    headers = webhook_headers([other, secret], SPEC_ID, SPEC_BODY, now=1_800_000_000)

    assert verify(secret, headers, SPEC_BODY, now=1_800_000_000 + 299)
    assert verify(other, headers, SPEC_BODY, now=1_800_000_000 - 299)
    assert not verify(secret, headers, SPEC_BODY, now=1_800_000_000 + 301)  # a replayed capture
    assert not verify(secret, headers, SPEC_BODY + b" ", now=1_800_000_000)
    assert not verify(new_secret(), headers, SPEC_BODY, now=1_800_000_000)
    assert not verify(secret, {**headers, "webhook-id": "another"}, SPEC_BODY, now=1_800_000_000)
    assert not verify(secret, {**headers, "webhook-timestamp": "soon"}, SPEC_BODY, now=1_800_000_000)
    v2_only = {**headers, "webhook-signature": headers["webhook-signature"].replace("v1,", "v2,")}
    assert not verify(secret, v2_only, SPEC_BODY, now=1_800_000_000)


def test_secrets_are_32_random_bytes_with_the_whsec_prefix() -> None:
    secrets = {new_secret() for _ in range(50)}
    assert len(secrets) == 50
    assert all(s.startswith("whsec_") and len(s) == len("whsec_") + 44 for s in secrets)


@pytest.mark.parametrize(
    ("address", "permitted"),
    [
        ("93.184.215.14", True),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104 - an address under test, nothing binds to it
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:93.184.215.14", True),
    ],
)
def test_only_public_addresses_are_permitted_by_default(address: str, permitted: bool) -> None:
    assert AddressPolicy().permits(ipaddress.ip_address(address)) is permitted


def test_allowed_networks_open_exactly_those_ranges() -> None:
    policy = AddressPolicy.from_setting("127.0.0.0/8, ::1/128")
    assert policy.permits(ipaddress.ip_address("127.0.0.1"))
    assert policy.permits(ipaddress.ip_address("::ffff:127.0.0.2"))
    assert policy.permits(ipaddress.ip_address("::1"))
    assert not policy.permits(ipaddress.ip_address("10.0.0.1"))
    with pytest.raises(TargetRefused):
        AddressPolicy().check_literal("[::1]")
    with pytest.raises(ValueError, match="does not appear"):
        AddressPolicy.from_setting("localhost")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://example.com/hook", "only http and https"),
        ("https:///hook", "no host"),
        ("https://user:pw@example.com/hook", "credentials"),
        ("https://example.com/hook#part", "fragment"),
        ("https://example.com:99999/hook", "not a URL|port"),
        ("https://example.com/" + "a" * 2100, "longer than"),
    ],
)
def test_urls_that_cannot_be_targets_say_why(url: str, problem: str) -> None:
    with pytest.raises(InvalidUrl, match=problem):
        check_url(url)


def _result(status: int | None) -> AttemptResult:
    return AttemptResult(datetime.now(UTC), 5, status, None if status == 204 else "failed", "")


def test_the_schedule_retries_about_a_day_then_gives_up() -> None:
    schedule = parse_schedule(DEFAULT_RETRY_SCHEDULE)
    assert 20 * 3600 <= sum(schedule) <= 28 * 3600
    assert next_step(_result(204), 1, schedule) == ("succeeded", 0.0)
    status, delay = next_step(_result(500), 1, schedule)
    assert status == "pending"
    assert 4.5 <= delay <= 5.5
    assert next_step(_result(None), len(schedule), schedule)[0] == "pending"
    assert next_step(_result(503), len(schedule) + 1, schedule) == ("failed", 0.0)
    assert next_step(_result(500), 1, ()) == ("failed", 0.0)
    with pytest.raises(ValueError, match="negative"):
        parse_schedule("5,-1")
