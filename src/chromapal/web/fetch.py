"""Fetch an image by URL for the web app without letting a request reach private networks.

The host is resolved once with `socket.getaddrinfo`; every address must be public
(not private, loopback, link-local, reserved, multicast or unspecified), and the
connection goes to the address that was checked, so a DNS answer cannot change
between the check and the connection. Redirects are followed by hand, each hop
checked again. The whole fetch has a time limit and the body a size limit.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..errors import SourceError

#: Defaults: seconds for the whole fetch (every hop), body bytes, redirects followed.
FETCH_TIMEOUT: Final = 10.0
FETCH_MAX_BYTES: Final = 50 * 1024 * 1024
MAX_REDIRECTS: Final = 5
_CHUNK: Final = 64 * 1024
_REDIRECTS: Final = {301, 302, 303, 307, 308}

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Returns why an address must not be contacted, or None when it may be.
AddressPolicy = Callable[[IPAddress], "str | None"]


def blocked_reason(ip: IPAddress) -> str | None:
    """Why `ip` must not be fetched from (e.g. ``'loopback'``), or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 is 127.0.0.1
    checks = (
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("private", ip.is_private),
        ("multicast", ip.is_multicast),
        ("unspecified", ip.is_unspecified),
        ("reserved", ip.is_reserved),
        ("not globally routable", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


@dataclass(frozen=True)
class _Target:
    """One checked hop: where to connect and what to ask for."""

    scheme: str
    host: str  # as written in the URL, for the Host header and TLS
    port: int
    path: str
    address: str  # the checked IP the socket connects to


def _target(url: str, policy: AddressPolicy, deadline: float) -> _Target:
    """Parse `url`, resolve its host and check every address; raise `SourceError` if refused."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise SourceError(f"{url}: only http and https URLs are fetched (got {scheme or 'none'!r})")
    if not parts.hostname:
        raise SourceError(f"{url}: the URL names no host")
    if parts.username or parts.password:
        raise SourceError(f"{url}: URLs with a user name or password are not fetched")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError as exc:
        raise SourceError(f"{url}: invalid port") from exc
    if time.monotonic() > deadline:
        raise SourceError(f"{url}: no answer in time")
    try:
        infos = socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise SourceError(f"{url}: cannot resolve host {parts.hostname!r}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    for ip in addresses:  # all of them: a client may try any, and so could a rebinding DNS
        reason = policy(ip)
        if reason is not None:
            raise SourceError(f"{url}: refusing to fetch from a {reason} address ({ip})")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return _Target(scheme, parts.hostname, port, path, str(addresses[0]))


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a fixed IP, with the certificate checked against the URL's host name."""

    def __init__(self, address: str, host: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self._address = address

    def connect(self) -> None:
        """Open the socket to the checked address, then start TLS for the host name."""
        sock = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


def _connection(target: _Target, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPS(target.address, target.host, target.port, timeout)
    return http.client.HTTPConnection(target.address, target.port, timeout=timeout)


def fetch_image_bytes(
    url: str,
    *,
    timeout: float = FETCH_TIMEOUT,
    max_bytes: int = FETCH_MAX_BYTES,
    max_redirects: int = MAX_REDIRECTS,
    policy: AddressPolicy = blocked_reason,
) -> bytes:
    """Download `url` (http or https) from a public address only; return the body.

    Parameters
    ----------
    url : str
        The image URL.
    timeout : float
        Seconds the whole fetch may take, redirects included.
    max_bytes : int
        Largest body accepted.
    max_redirects : int
        Redirects followed at most; each target is checked like the first.
    policy : callable
        ``policy(ip) -> reason or None``; `blocked_reason` by default (tests pass their own).

    Raises
    ------
    SourceError
        For a refused scheme or address, an unreachable or slow server, an error status,
        too many redirects or a body over `max_bytes`.
    """
    deadline = time.monotonic() + timeout
    for _ in range(max_redirects + 1):
        target = _target(url, policy, deadline)
        status, location, body = _get(url, target, deadline, max_bytes)
        if status in _REDIRECTS and location:
            url = urllib.parse.urljoin(url, location)
            continue
        if status != 200:
            raise SourceError(f"{url}: the server answered {status}")
        return body
    raise SourceError(f"{url}: more than {max_redirects} redirects")


def _get(url: str, target: _Target, deadline: float, max_bytes: int) -> tuple[int, str | None, bytes]:
    """One GET to the checked address: (status, Location header, body) within the limits."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise SourceError(f"{url}: no answer in time")
    conn = _connection(target, timeout=left)
    host = target.host if ":" not in target.host else f"[{target.host}]"
    default_port = 443 if target.scheme == "https" else 80
    try:
        conn.request(
            "GET",
            target.path,
            headers={
                "Host": host if target.port == default_port else f"{host}:{target.port}",
                "User-Agent": "chromapal",
                "Accept": "image/*",
            },
        )
        sock = conn.sock  # kept: the connection lets go of it when the response closes it
        response = conn.getresponse()
        if response.status in _REDIRECTS:
            return response.status, response.getheader("Location"), b""
        declared = response.getheader("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raise SourceError(f"{url}: {int(declared):,} bytes is over the {max_bytes:,}-byte limit")
        return response.status, None, _read(response, sock, url, deadline, max_bytes)
    except SourceError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        if isinstance(exc, TimeoutError) or time.monotonic() >= deadline:
            raise SourceError(f"{url}: no answer in time") from exc
        raise SourceError(f"{url}: cannot be fetched ({type(exc).__name__})") from exc
    finally:
        conn.close()


def _read(
    response: http.client.HTTPResponse,
    sock: socket.socket | None,
    url: str,
    deadline: float,
    max_bytes: int,
) -> bytes:
    """Read the body in chunks, stopping at the size limit or the deadline."""
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SourceError(f"{url}: no answer in time")
        if sock is not None:  # a server trickling bytes must not outlast the deadline
            sock.settimeout(left)
        chunk = response.read1(_CHUNK)
        if not chunk:
            break
        size += len(chunk)
        if size > max_bytes:
            raise SourceError(f"{url}: the body is over the {max_bytes:,}-byte limit")
        chunks.append(chunk)
    return b"".join(chunks)
