"""Which IP addresses a server-side fetch may connect to: public unicast ones only, checked at connect time.

Used by the feed poller (ingest) and the webhook sender (query), which both connect to
addresses that users choose. IPv4 carried inside IPv6 (mapped, NAT64, 6to4, Teredo,
IPv4-compatible) is judged by the IPv4 address it carries.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable, Iterable

import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # well-known NAT64 prefix (DNS64): the last 32 bits are IPv4
# Special-purpose ranges (IANA registries) that not every Python version flags as private.
_SPECIAL = tuple(ipaddress.ip_network(n) for n in (
    "100.64.0.0/10",    # shared address space (carrier-grade NAT)
    "192.0.0.0/24",     # IETF protocol assignments
    "192.88.99.0/24",   # 6to4 relay anycast
    "198.18.0.0/15",    # benchmarking
    "64:ff9b:1::/48",   # local-use NAT64
    "100::/64",         # discard-only
    "2001::/23",        # IETF protocol assignments (Teredo, ORCHIDs, ...)
    "2001:db8::/32",    # documentation
))


def address_refusal(address: str | IPAddress) -> str | None:
    """Why the poller must not connect to this address, or None for a public unicast address."""
    ip = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d, whatever the Python version says
            return address_refusal(ip.ipv4_mapped)
        if ip in _NAT64:  # DNS64 answers for IPv4-only hosts: judged by the IPv4 address they stand for
            return address_refusal(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        for embedded in _embedded_ipv4(ip):
            reason = address_refusal(embedded)
            if reason:
                return f"{reason} (inside {ip})"
    for reason, flag in (("an unspecified", ip.is_unspecified), ("a loopback", ip.is_loopback),
                         ("a link-local", ip.is_link_local), ("a multicast", ip.is_multicast),
                         ("a private", ip.is_private), ("a reserved", ip.is_reserved),
                         ("a site-local", isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
                         ("a special-purpose", any(ip in net for net in _SPECIAL if net.version == ip.version)),
                         ("not a public", not ip.is_global)):
        if flag:
            return f"{ip} is {reason} address"
    return None


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> Iterable[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries: 6to4, Teredo client, IPv4-compatible (::a.b.c.d)."""
    if ip.sixtofour is not None:
        yield ip.sixtofour
    if ip.teredo is not None:
        yield ip.teredo[1]
    if int(ip) >> 32 == 0 and int(ip) > 0xFFFF:
        yield ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)


class AddressRefused(Exception):
    """The host may not be connected to: a non-public address, no address, or a unix socket."""


Resolver = Callable[[str, int], Awaitable[list[str]]]


async def resolve(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for host (A and AAAA)."""
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


async def checked_addresses(host: str, port: int, resolver: Resolver | None = None,
                            refused: type[AddressRefused] = AddressRefused) -> list[str]:
    """The addresses of host, all of them public; `refused` is raised when any is not, or none exists."""
    host = host.strip("[]")
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
        addresses = [host]
    except ValueError:
        try:
            addresses = await (resolver or resolve)(host, port)
        except OSError as exc:
            raise refused(f"{host} does not resolve: {exc}") from exc
    if not addresses:
        raise refused(f"{host} does not resolve")
    for address in addresses:
        reason = address_refusal(address)
        if reason:
            raise refused(f"{host} refused: {reason}")
    return addresses


class _CheckedBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks every address, then connects to one of the checked addresses: a DNS answer
    that changes between the check and the connection (rebinding) gains nothing."""

    def __init__(self, resolver: Resolver | None, refused: type[AddressRefused]) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._resolver, self._refused = resolver, refused

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        addresses = await checked_addresses(host, port, self._resolver, self._refused)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout=timeout, local_address=local_address,
                                                     socket_options=socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):  # pragma: no cover
        raise self._refused("unix sockets are not allowed")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PublicOnlyTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that connects to public addresses only, ignoring environment proxies."""

    def __init__(self, resolver: Resolver | None = None, refused: type[AddressRefused] = AddressRefused) -> None:
        super().__init__(trust_env=False)
        # The same pool httpx builds, with the checked network backend.
        self._pool = httpcore.AsyncConnectionPool(ssl_context=httpx.create_ssl_context(trust_env=False),
                                                  network_backend=_CheckedBackend(resolver, refused))
