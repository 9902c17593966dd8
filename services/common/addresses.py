"""Which IP addresses a server-side fetch may connect to: public unicast ones only.

Used by the feed poller (ingest) and the webhook sender (query), which both connect to
addresses that users choose. IPv4 carried inside IPv6 (mapped, NAT64, 6to4, Teredo,
IPv4-compatible) is judged by the IPv4 address it carries.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

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
