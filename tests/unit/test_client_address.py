"""The client's address through trusted proxies only: the right-most X-Forwarded-For hop a trusted proxy did not
vouch for."""

from __future__ import annotations

import pytest

from servicekit.clients import client_address, parse_networks

TRUSTED = parse_networks("10.0.0.0/16, 127.0.0.1, fd00::/8")


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.5", ["198.51.100.1"], "203.0.113.5"),  # not a proxy of ours: its header means nothing
        ("10.0.3.4", ["198.51.100.1"], "198.51.100.1"),  # the ALB forwards for a client
        ("10.0.3.4", ["6.6.6.6, 198.51.100.1"], "198.51.100.1"),  # what the client wrote itself is left of it
        ("10.0.3.4", ["198.51.100.1, 10.0.9.9"], "198.51.100.1"),  # two proxies of ours in a row
        ("10.0.3.4", ["6.6.6.6", "198.51.100.1"], "198.51.100.1"),  # several headers: one list, in order
        ("10.0.3.4", ["10.0.1.1, 10.0.2.2"], "10.0.1.1"),  # every hop ours: the first one
        ("10.0.3.4", [], "10.0.3.4"),  # a proxy that forwards nothing
        ("10.0.3.4", ["not-an-address, 10.0.5.5"], "10.0.5.5"),  # garbage: the last hop we can vouch for
        ("10.0.3.4", ["198.51.100.1:4711"], "198.51.100.1"),  # with a port
        ("10.0.3.4", ["[2001:db8::1]:443"], "2001:db8::1"),
        ("fd00::1", ["2001:db8::7"], "2001:db8::7"),
        ("::ffff:10.0.0.1", ["198.51.100.1"], "198.51.100.1"),  # an IPv4 proxy seen on a dual-stack socket
        (None, ["198.51.100.1"], "unknown"),
    ],
)
def test_the_client_is_the_first_hop_from_the_right_that_no_trusted_proxy_vouches_for(
    peer: str | None, forwarded: list[str], client: str
) -> None:
    assert client_address(peer, forwarded, TRUSTED) == client


def test_with_no_trusted_proxy_the_peer_is_the_client() -> None:
    assert client_address("10.0.3.4", ["198.51.100.1"], ()) == "10.0.3.4"


def test_a_bad_network_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="does not appear"):
        parse_networks("10.0.0.0/16, ten-dot-zero")
