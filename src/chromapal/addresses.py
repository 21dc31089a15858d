"""Which IP addresses a URL fetch may connect to: the address policies.

A policy is a function ``policy(ip) -> reason or None``: None lets the address be
contacted, a reason (such as ``'loopback'``) refuses it and names why. Two are given:

- `allow_any`: every address (the command line and the library: the user's own request
  on the user's own machine, where ``http://localhost:8000/a.png`` is a fair thing to ask);
- `blocked_reason`: global unicast only (the web app, where a request must never reach
  the server's own machine or network).

`blocked_reason` is written out from the IANA special-purpose address registries
(https://www.iana.org/assignments/iana-ipv4-special-registry and
iana-ipv6-special-registry, checked 2026) rather than taken from `ipaddress`'s
``is_global``/``is_private`` properties, whose tables differ between Python 3.11, 3.12 and
3.13 (3.11 lets through 6to4 ``2002::/16``, site-local ``fec0::/10``, ``192.88.99.0/24``
and ``3fff::/20``). IPv6 forms that embed an IPv4 address (IPv4-mapped, NAT64, 6to4 and
Teredo) are refused when the embedded address is refused.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Final

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: ``policy(ip)``: why `ip` must not be contacted, or None when it may be.
AddressPolicy = Callable[[IPAddress], "str | None"]

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

#: IPv4 networks that are not globally reachable unicast, with their names (IANA
#: special-purpose registry, plus multicast and limited broadcast). Everything else is global.
#: 192.0.0.0/24 is refused whole, its two anycast service addresses included.
IPV4_BLOCKED: Final[tuple[tuple[ipaddress.IPv4Network, str], ...]] = (
    (_V4("0.0.0.0/8"), "this-network"),
    (_V4("10.0.0.0/8"), "private"),
    (_V4("100.64.0.0/10"), "shared (carrier-grade NAT)"),
    (_V4("127.0.0.0/8"), "loopback"),
    (_V4("169.254.0.0/16"), "link-local"),
    (_V4("172.16.0.0/12"), "private"),
    (_V4("192.0.0.0/24"), "IETF protocol assignment"),
    (_V4("192.0.2.0/24"), "documentation (TEST-NET-1)"),
    (_V4("192.88.99.0/24"), "6to4 relay anycast (deprecated)"),
    (_V4("192.168.0.0/16"), "private"),
    (_V4("198.18.0.0/15"), "benchmarking"),
    (_V4("198.51.100.0/24"), "documentation (TEST-NET-2)"),
    (_V4("203.0.113.0/24"), "documentation (TEST-NET-3)"),
    (_V4("224.0.0.0/4"), "multicast"),
    (_V4("255.255.255.255/32"), "broadcast"),
    (_V4("240.0.0.0/4"), "reserved"),
)

#: IPv6 prefixes whose addresses carry an IPv4 address, with where it sits; the IPv4
#: address is checked against `IPV4_BLOCKED` (both of them for Teredo).
IPV4_MAPPED: Final = _V6("::ffff:0:0/96")  # the last 32 bits: the socket really goes to IPv4
NAT64: Final = _V6("64:ff9b::/96")  # the last 32 bits (RFC 6052 well-known prefix)
SIX_TO_FOUR: Final = _V6("2002::/16")  # bits 16-48 (RFC 3056)
TEREDO: Final = _V6("2001::/32")  # server: bits 32-64; client: the last 32 bits XOR 0xffffffff

#: IPv6 networks refused whatever they contain, with their names (IANA special-purpose
#: registry, plus the address architecture's link-local, site-local and multicast).
IPV6_BLOCKED: Final[tuple[tuple[ipaddress.IPv6Network, str], ...]] = (
    (_V6("::/128"), "unspecified"),
    (_V6("::1/128"), "loopback"),
    (_V6("::/96"), "IPv4-compatible (deprecated)"),
    (_V6("64:ff9b:1::/48"), "local-use NAT64"),
    (_V6("100::/64"), "discard-only"),
    (_V6("2001::/23"), "IETF protocol assignment"),
    (_V6("2001:db8::/32"), "documentation"),
    (_V6("3fff::/20"), "documentation"),
    (_V6("fc00::/7"), "unique-local"),
    (_V6("fe80::/10"), "link-local"),
    (_V6("fec0::/10"), "site-local (deprecated)"),
    (_V6("ff00::/8"), "multicast"),
)
#: The only IPv6 space allocated for global unicast; the rest is reserved by the IETF.
GLOBAL_UNICAST: Final = _V6("2000::/3")


def allow_any(ip: IPAddress) -> str | None:
    """Policy that lets every address be contacted (the CLI's and the library's default)."""
    return None


def blocked_reason(ip: IPAddress) -> str | None:
    """Why `ip` must not be contacted under the public-only policy, or None for global unicast.

    Parameters
    ----------
    ip : IPv4Address or IPv6Address
        A resolved address (an IPv6 scope such as ``%eth0`` is ignored).

    Returns
    -------
    str or None
        The kind of address refused, e.g. ``'loopback'``, ``'private'``,
        ``'6to4-embedded loopback'``; None for a globally reachable unicast address.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return _ipv4_reason(ip)
    ip = ipaddress.IPv6Address(int(ip))  # drops any scope id
    if ip in IPV4_MAPPED:
        return _ipv4_reason(_embedded(ip, 0))  # the connection is made over IPv4
    if ip in NAT64:
        return _embedded_reason("NAT64", _embedded(ip, 0))
    if ip in SIX_TO_FOUR:
        return _embedded_reason("6to4", _embedded(ip, 80))
    if ip in TEREDO:
        server = _embedded(ip, 64)
        client = ipaddress.IPv4Address(int(_embedded(ip, 0)) ^ 0xFFFFFFFF)
        return _embedded_reason("Teredo", server) or _embedded_reason("Teredo", client)
    for network, name in IPV6_BLOCKED:
        if ip in network:
            return name
    return None if ip in GLOBAL_UNICAST else "reserved"


def _ipv4_reason(ip: ipaddress.IPv4Address) -> str | None:
    for network, name in IPV4_BLOCKED:
        if ip in network:
            return name
    return None


def _embedded(ip: ipaddress.IPv6Address, shift: int) -> ipaddress.IPv4Address:
    """The 32 bits of `ip` that end `shift` bits before its last bit, as an IPv4 address."""
    return ipaddress.IPv4Address((int(ip) >> shift) & 0xFFFFFFFF)


def _embedded_reason(kind: str, inner: ipaddress.IPv4Address) -> str | None:
    reason = _ipv4_reason(inner)
    return None if reason is None else f"{kind}-embedded {reason}"


def refusal(ip: IPAddress, reason: str) -> str:
    """The message part saying `ip` is refused, e.g. ``'refusing to fetch from a loopback address (::1)'``."""
    article = "an" if reason[0].lower() in "aeiou" and not reason.startswith("uni") else "a"
    return f"refusing to fetch from {article} {reason} address ({ip})"
