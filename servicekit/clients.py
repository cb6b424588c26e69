"""Who is asking: the client's address, as seen through the reverse proxies we run (the ALB, Compose's proxy, the
dev gateway). `X-Forwarded-For` is believed only as far as it was written by a trusted proxy: from the right,
each hop a trusted proxy vouches for is skipped, and the first one that is not trusted is the client. A client
cannot forge its way past that: whatever it puts in the header sits to the left of what our proxies appended."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str) -> tuple[Network, ...]:
    """Comma-separated CIDRs (or single addresses), e.g. `10.0.0.0/16,127.0.0.1`."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _trusted(address: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[Network]) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address.version == net.version and address in net for net in trusted)


def client_address(peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client's address: the TCP peer, or, when the peer is a trusted proxy, the right-most address in
    `X-Forwarded-For` (all its headers, in order) that is not one."""
    peer = peer or "unknown"
    peer_address = _address(peer)
    if peer_address is None or not _trusted(peer_address, trusted):
        return peer
    hops = [hop.strip() for header in forwarded_for for hop in header.split(",") if hop.strip()]
    client = str(peer_address)
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return client  # garbage a trusted proxy passed on: the last hop we can vouch for
        client = str(address)
        if not _trusted(address, trusted):
            return client
    return client
