"""Download an image by URL within one total deadline, a size limit and an address policy.

One implementation for the command line, the library, batch and the web app. The
deadline covers everything, every redirect hop included: resolving the host (in a helper
thread, as `socket.getaddrinfo` cannot be interrupted), connecting, the TLS handshake, the
request, the status line, the headers, chunk-size lines and the body. Every blocking socket
call is given only the time left (`_DeadlineSocket`), so a server trickling a byte at a
time is cut off at the deadline, not only a silent one.

Each hop's host is resolved once and every address it resolves to is checked with the
`policy` (see `chromapal.addresses`); the connection goes to a checked address, so a DNS
answer cannot change between the check and the connection. Redirects (at most
`MAX_REDIRECTS`) are followed by hand, each checked like the first URL.
"""

from __future__ import annotations

import functools
import http.client
import io
import math
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any, Final

from .addresses import AddressPolicy, IPAddress, allow_any, refusal
from .errors import SourceError
from .messages import cause, one_line, printable
from .urls import Url, parse_url, resolve_location

#: URL fetches: seconds the whole download may take, bytes accepted at most, and the
#: address policy (read when `fetch_url` is called, so they can be changed at run time:
#: a program that fetches URLs given by others through `chromapal.extract` sets
#: ``chromapal.fetch.URL_POLICY = chromapal.addresses.blocked_reason``).
URL_TIMEOUT: Final = 15.0
URL_MAX_BYTES: Final = 100 * 1024 * 1024
URL_POLICY: AddressPolicy = allow_any
#: Redirects followed at most; each target is checked like the first URL.
MAX_REDIRECTS: Final = 5
_CHUNK: Final = 64 * 1024
_LONGEST: Final = 1e8  # seconds (three years): the longest deadline, where `inf` is asked for
_REDIRECTS: Final = frozenset({301, 302, 303, 307, 308})
_OK: Final = frozenset({200, 203})
_HTML_TYPES: Final = frozenset({"text/html", "application/xhtml+xml"})
#: How an HTML document may start (the WHATWG MIME sniffing patterns), lower case.
_HTML_STARTS: Final = (
    b"<!doctype html", b"<html", b"<head", b"<script", b"<iframe", b"<h1", b"<div", b"<font",
    b"<table", b"<a", b"<style", b"<title", b"<b", b"<body", b"<br", b"<p", b"<!--",
)
_HEADERS: Final = {"User-Agent": "chromapal", "Accept": "image/*,*/*;q=0.8"}


class HTTPStatusError(SourceError):
    """The server answered with an error status; `status` and its ``Retry-After`` are kept."""

    def __init__(self, message: str, *, status: int, retry_after: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after

    def __reduce__(self) -> Any:  # picklable across worker processes, keywords included
        return (_http_status_error, (str(self), self.status, self.retry_after))


def _http_status_error(message: str, status: int, retry_after: str | None) -> HTTPStatusError:
    return HTTPStatusError(message, status=status, retry_after=retry_after)


@dataclass(frozen=True)
class _Limits:
    """What one fetch may cost, and how its messages name it."""

    name: str
    timeout: float
    deadline: float
    max_bytes: int
    policy: AddressPolicy

    def left(self) -> float:
        """Seconds left before the deadline; `TimeoutError` when none is."""
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline has passed")
        return left


def fetch_url(
    url: str,
    *,
    timeout: float | None = None,
    max_bytes: int | None = None,
    policy: AddressPolicy | None = None,
    max_redirects: int = MAX_REDIRECTS,
) -> bytes:
    """Download `url` (http or https only) within a total time limit and a size limit.

    Parameters
    ----------
    url : str
        An http(s) URL; unsafe characters are percent-encoded and host names IDNA-encoded
        as browsers do (see `chromapal.urls`).
    timeout : float, optional
        Seconds the whole download may take, every redirect hop and every phase included
        (`URL_TIMEOUT` by default, read at call time).
    max_bytes : int, optional
        Largest body accepted (`URL_MAX_BYTES` by default, read at call time).
    policy : callable, optional
        ``policy(ip) -> reason or None``, asked about every address of every hop.
        `URL_POLICY` by default (read at call time), which is
        `chromapal.addresses.allow_any`: a user's own request on their own machine. A
        server fetching URLs for others must use `chromapal.addresses.blocked_reason`
        (global unicast only), as the web app does.
    max_redirects : int, optional
        Redirects followed at most.

    Returns
    -------
    bytes
        The body of the final answer.

    Raises
    ------
    SourceError
        For a malformed URL, a refused scheme or address, a server that cannot be reached,
        answers with an error status, HTML or not in HTTP, takes longer than `timeout`, or
        sends more than `max_bytes`: one line naming the URL and the cause.
    """
    timeout = URL_TIMEOUT if timeout is None else timeout
    max_bytes = URL_MAX_BYTES if max_bytes is None else max_bytes
    policy = URL_POLICY if policy is None else policy
    if math.isnan(timeout):
        raise ValueError("timeout must be a number of seconds (got nan)")
    timeout = min(timeout, _LONGEST)  # inf: no practical limit, but one sockets accept
    name = printable(url)
    limits = _Limits(name, timeout, time.monotonic() + timeout, max_bytes, policy)
    target = parse_url(url, name)
    where = name
    for _ in range(max_redirects + 1):
        location, body = _get(target, where, limits)
        if location is None:
            return body
        next_url = resolve_location(target, location, where)
        where = f"{name} -> {printable(next_url)}"
        target = parse_url(next_url, where)
    raise SourceError(f"{name}: more than {max_redirects} redirects")


def _get(target: Url, where: str, limits: _Limits) -> tuple[str | None, bytes]:
    """One GET: (the redirect's Location, b"") or (None, the body); `where` names it in errors."""
    phase = "answer"
    sock: socket.socket | None = None
    try:
        sock = _connect(target, where, limits)
        conn = http.client.HTTPConnection(target.host, target.port)
        conn.sock = _DeadlineSocket(sock, limits)  # type: ignore[assignment]
        conn.request("GET", target.target, headers={"Host": target.authority, **_HEADERS})
        response = conn.getresponse()
        location = response.getheader("Location")
        if response.status in _REDIRECTS and location:
            return location, b""
        _check_answer(response, where, limits)
        phase = "body"
        return None, _read_body(response, where, limits)
    except SourceError:
        raise
    except http.client.HTTPException as exc:  # not an OSError: bad status line, cut-off body
        if time.monotonic() >= limits.deadline:
            raise _late(where, phase, limits) from exc
        raise SourceError(f"{where}: broken HTTP answer ({cause(exc)})") from exc
    except (OSError, ValueError) as exc:
        if isinstance(exc, TimeoutError) or time.monotonic() >= limits.deadline:
            raise _late(where, phase, limits) from exc
        raise SourceError(f"{where}: cannot be fetched ({cause(exc)})") from exc
    finally:
        if sock is not None:
            sock.close()


def _late(where: str, phase: str, limits: _Limits) -> SourceError:
    if phase == "body":
        return SourceError(f"{where}: not downloaded within {limits.timeout:g} s")
    return SourceError(f"{where}: no answer within {limits.timeout:g} s")


def _connect(target: Url, where: str, limits: _Limits) -> socket.socket:
    """A connected (and for https, TLS-wrapped) socket to a checked address of `target`."""
    addresses = _resolve(target, where, limits)
    for ip in addresses:  # all of them: a client may try any, and so could a rebinding DNS
        reason = limits.policy(ip)
        if reason is not None:
            raise SourceError(f"{where}: {refusal(ip, reason)}")
    errors: list[OSError] = []
    # In the resolver's order, with no second lookup (the address is the checked one); each
    # address gets an even share of the time left, so one that drops packets leaves time for
    # the next, and the last one gets all that is left.
    for i, ip in enumerate(addresses):
        sock = socket.socket(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.settimeout(limits.left() / (len(addresses) - i))
            sock.connect((str(ip), target.port))
            break
        except OSError as exc:  # TimeoutError included
            sock.close()
            errors.append(exc)
    else:
        if isinstance(errors[-1], TimeoutError):
            raise errors[-1]
        raise SourceError(f"{where}: cannot be reached ({cause(errors[-1])})")
    if target.scheme == "http":
        return sock
    return _start_tls(sock, target, where, limits)


def _start_tls(sock: socket.socket, target: Url, where: str, limits: _Limits) -> socket.socket:
    """`sock` wrapped in TLS for the URL's host name, the handshake within the deadline."""
    import ssl

    try:
        tls = _tls_context().wrap_socket(
            sock, server_hostname=target.host, do_handshake_on_connect=False
        )
        tls.settimeout(limits.left())
        tls.do_handshake()
    except ssl.SSLError as exc:
        sock.close()
        raise SourceError(f"{where}: secure connection failed ({cause(exc)})") from exc
    except BaseException:
        sock.close()
        raise
    return tls


@functools.cache
def _tls_context() -> Any:
    """The default TLS context (system CAs, host name checks), made once: loading CAs is slow."""
    import ssl

    return ssl.create_default_context()


def _resolve(target: Url, where: str, limits: _Limits) -> list[IPAddress]:
    """The addresses of `target`'s host, resolved in a helper thread within the deadline."""
    import ipaddress

    if (ip := target.ip) is not None:
        return [ip]
    answer: dict[str, Any] = {}

    def resolve() -> None:
        try:
            answer["infos"] = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as exc:
            answer["error"] = exc

    # A daemon thread: if the resolver hangs, the fetch gives up and the thread ends on its own.
    worker = threading.Thread(target=resolve, name="chromapal-resolve", daemon=True)
    worker.start()
    worker.join(limits.left())
    if worker.is_alive():
        raise TimeoutError(f"resolving {target.host!r}")
    if "error" in answer:
        raise SourceError(
            f"{where}: cannot be reached (cannot resolve host {target.host!r}: {one_line(answer['error'])})"
        )
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in answer["infos"]]
    return list(dict.fromkeys(addresses))


def _check_answer(response: http.client.HTTPResponse, where: str, limits: _Limits) -> None:
    """Refuse an error status, an HTML answer or a declared body over the size limit."""
    if response.status not in _OK:
        reason = one_line(response.reason)[:80]
        raise HTTPStatusError(
            f"{where}: the server answered {response.status} {reason}".rstrip(),
            status=response.status,
            retry_after=response.getheader("Retry-After"),
        )
    media = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
    if media in _HTML_TYPES:
        raise SourceError(f"{where}: the server sent {media}, not an image")
    if response.length is not None and response.length > limits.max_bytes:
        raise SourceError(
            f"{where}: {response.length:,} bytes is over the {limits.max_bytes:,}-byte limit"
        )


def _read_body(response: http.client.HTTPResponse, where: str, limits: _Limits) -> bytes:
    """The body in chunks, stopping past the size limit; a short or HTML body is refused."""
    declared = response.length
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > limits.max_bytes:
            raise SourceError(f"{where}: more than the {limits.max_bytes:,}-byte limit")
    if declared is not None and size < declared:
        raise SourceError(f"{where}: the connection closed after {size:,} of {declared:,} bytes")
    data = b"".join(chunks)
    if looks_like_html(data):
        raise SourceError(f"{where}: the server sent text/html, not an image")
    return data


def looks_like_html(data: bytes) -> bool:
    """True if `data` starts as an HTML document does (WHATWG MIME sniffing's HTML patterns)."""
    head = data[:512].lstrip(b"\t\n\x0c\r ")
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:].lstrip(b"\t\n\x0c\r ")
    head = head[:16].lower()
    return any(
        head.startswith(start) and head[len(start) : len(start) + 1] in (b" ", b">", b"\t", b"\n", b"\r")
        for start in _HTML_STARTS
    )


class _DeadlineSocket:
    """The socket `http.client` talks through: every send and receive gets only the time left.

    A per-call timeout alone lets a server that trickles a byte per call hold the client
    for ever; here each call's timeout is what is left of the one deadline, so the sum of
    all calls cannot pass it.
    """

    def __init__(self, sock: socket.socket, limits: _Limits) -> None:
        self._sock = sock
        self._limits = limits

    def arm(self) -> socket.socket:
        """The socket, its timeout set to the time left (`TimeoutError` when none is)."""
        self._sock.settimeout(self._limits.left())
        return self._sock

    def sendall(self, data: bytes) -> None:
        """Send `data` within the time left."""
        self.arm().sendall(data)

    def makefile(self, mode: str = "rb", *args: object, **kwargs: object) -> io.BufferedReader:
        """A buffered reader whose every read is bounded by the deadline."""
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        """Nothing: `_get` closes the real socket once the answer is read."""


class _DeadlineReader(io.RawIOBase):
    """Raw reads from a `_DeadlineSocket`."""

    def __init__(self, sock: _DeadlineSocket) -> None:
        self._sock = sock

    def readable(self) -> bool:
        """Yes."""
        return True

    def readinto(self, buffer: Any) -> int:
        """Receive into `buffer` within the time left."""
        return self._sock.arm().recv_into(buffer)
