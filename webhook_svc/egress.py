"""Where webhook_svc may send requests: http(s) URLs only, and only to public addresses, unless a network is
allowed by configuration (tests and `framepipe dev` allow loopback; production allows nothing more).

Every address a host name resolves to is checked, and the connection is made to exactly the addresses that were
checked (the resolver below is the one the HTTP client connects with), so a DNS answer cannot change between the
check and the connection. IP literals, which aiohttp connects to without resolving, are checked before the
request. IPv4-mapped IPv6 addresses are judged as the IPv4 address they carry."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass

from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

MAX_URL_LENGTH = 2048


class InvalidUrl(ValueError):
    """Not a URL a webhook can be sent to (scheme, host, credentials, length)."""


class TargetRefused(OSError):
    """The target resolves to an address outside the allowed ones (private, loopback, link-local…)."""


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """ "127.0.0.0/8, ::1/128" -> the networks; raises ValueError for anything else."""
    return tuple(ipaddress.ip_network(part.strip(), strict=False) for part in value.split(",") if part.strip())


@dataclass(frozen=True)
class AddressPolicy:
    allowed_networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def from_setting(cls, value: str) -> AddressPolicy:
        return cls(parse_networks(value))

    def permits(self, address: IPAddress) -> bool:
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed_networks):
            return True
        # is_global is False for private, loopback, link-local, shared (100.64/10), reserved and unspecified ranges.
        return address.is_global and not address.is_multicast

    def check_literal(self, host: str) -> None:
        """Refuse a host that is an IP literal outside the policy (names are checked when resolved)."""
        address = literal_address(host)
        if address is not None and not self.permits(address):
            raise TargetRefused(f"{address} is not a public address")


def literal_address(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_url(raw: str) -> URL:
    """The URL as a webhook target, or InvalidUrl saying what is wrong with it."""
    if len(raw) > MAX_URL_LENGTH:
        raise InvalidUrl(f"longer than {MAX_URL_LENGTH} characters")
    try:
        url = URL(raw)
    except (ValueError, TypeError):
        raise InvalidUrl("not a URL") from None
    if url.scheme not in ("http", "https"):
        raise InvalidUrl("only http and https URLs can receive webhooks")
    if not url.host:
        raise InvalidUrl("the URL has no host")
    if url.user is not None or url.password is not None:
        raise InvalidUrl("credentials in the URL are not accepted; authenticate with the signature instead")
    if url.fragment:
        raise InvalidUrl("a URL with a #fragment cannot be requested")
    try:
        _ = url.port
    except ValueError:
        raise InvalidUrl("the port is not valid") from None
    return url


class PinnedResolver(AbstractResolver):
    """Resolves a host name and refuses it unless every address it resolves to is permitted; aiohttp connects to
    the addresses returned here, and only to them."""

    def __init__(self, policy: AddressPolicy) -> None:
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, family=family)
        except socket.gaierror as exc:
            raise OSError(f"cannot resolve {host}: {exc.strerror}") from None
        results: list[ResolveResult] = []
        for info_family, _, proto, _, sockaddr in infos:
            address = ipaddress.ip_address(sockaddr[0])
            if not self._policy.permits(address):
                raise TargetRefused(f"{host} resolves to {address}, which is not a public address")
            results.append(
                ResolveResult(
                    hostname=host,
                    host=str(address),
                    port=int(sockaddr[1]),
                    family=info_family,
                    proto=proto,
                    flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
                )
            )
        if not results:
            raise OSError(f"{host} has no address")
        return results

    async def close(self) -> None:
        return None


async def resolve_and_check(policy: AddressPolicy, host: str) -> None:
    """The same check as a delivery makes, for a URL being registered (so a refusal is answered at once)."""
    policy.check_literal(host)
    if literal_address(host) is None:
        await PinnedResolver(policy).resolve(host, 0, socket.AF_UNSPEC)
