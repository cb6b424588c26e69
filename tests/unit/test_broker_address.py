"""AMQP_URL: one broker URL or one per node of a cluster, checked when the settings are read."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from servicekit.bus.connection import BrokerAddressError, broker_urls, safe_url
from servicekit.settings import BaseServiceSettings


class _Settings(BaseServiceSettings):
    http_port: int = 0


def test_one_url_is_a_list_of_one() -> None:
    assert broker_urls("amqp://guest:guest@127.0.0.1:5672/") == ["amqp://guest:guest@127.0.0.1:5672/"]


def test_several_urls_are_split_on_commas_with_the_spaces_around_them_dropped() -> None:
    value = "amqp://u:p@rabbit-0:5672/fp , amqps://u:p@rabbit-1:5671/fp,amqp://u:p@rabbit-2/fp,"
    assert broker_urls(value) == [
        "amqp://u:p@rabbit-0:5672/fp",
        "amqps://u:p@rabbit-1:5671/fp",
        "amqp://u:p@rabbit-2/fp",
    ]


@pytest.mark.parametrize("value", ["", " , ", "http://rabbit:5672/", "rabbit-0:5672", "amqp:///vhost"])
def test_anything_but_amqp_urls_with_a_host_is_refused(value: str) -> None:
    with pytest.raises(BrokerAddressError):
        broker_urls(value)


def test_a_bad_broker_address_fails_the_settings_without_showing_the_password() -> None:
    with pytest.raises(ValidationError) as failure:
        _Settings(_env_file=None, amqp_url="amqp://u:hunter2@rabbit-0:5672/,https://u:hunter2@rabbit-1/")  # type: ignore[call-arg]
    assert "hunter2" not in str(failure.value)
    assert "https://u:***@rabbit-1/" in str(failure.value)


def test_passwords_are_masked_in_every_url_of_a_list() -> None:
    masked = safe_url("amqp://u:s3cret@rabbit-0:5672/fp,amqp://u:s3cret@rabbit-1:5672/fp")
    assert masked == "amqp://u:***@rabbit-0:5672/fp,amqp://u:***@rabbit-1:5672/fp"
