"""Parse and normalise http(s) URLs the way browsers do, before anything is fetched.

Following the WHATWG URL standard for the ``http`` and ``https`` schemes: surrounding
spaces and control characters are trimmed and tabs and newlines removed; backslashes
before the query count as slashes; spaces, quotes, angle brackets, backquotes, braces and
every non-ASCII character of the path and query are percent-encoded as UTF-8 (existing
``%XX`` escapes are kept); host names go through IDNA (UTS #46, as browsers) and
numeric IPv4 forms such as ``2130706433`` or ``0x7f.1`` are read as IPv4. The fragment is
dropped (it is never sent). A malformed URL raises `SourceError` naming it and the cause.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from dataclasses import dataclass
from typing import Final

from .errors import SourceError
from .messages import printable

_DEFAULT_PORTS: Final = {"http": 80, "https": 443}
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
#: Bytes percent-encoded in the path and the query (WHATWG's path and special-query sets).
_PATH_UNSAFE: Final = frozenset(b' "#<>?`{}')
_QUERY_UNSAFE: Final = frozenset(b" \"#<>'")
#: Code points that may not appear in a host name (WHATWG's forbidden domain code points).
_FORBIDDEN_HOST: Final = frozenset(" #%/:<>?@[\\]^|\x7f") | frozenset(map(chr, range(0x21)))


@dataclass(frozen=True)
class Url:
    """A parsed http(s) URL, ready to connect to.

    Attributes
    ----------
    scheme : str
        ``'http'`` or ``'https'``.
    host : str
        ASCII host name (IDNA applied, lower case) or IP address (IPv6 without brackets).
    port : int
        The port, the scheme's default when the URL gives none.
    target : str
        Path and query, percent-encoded: what the request line asks for.
    """

    scheme: str
    host: str
    port: int
    target: str

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The host as an IP address when it is one, else None."""
        try:
            return ipaddress.ip_address(self.host)
        except ValueError:
            return None

    @property
    def authority(self) -> str:
        """Host (IPv6 in brackets) and the port when it is not the default: the Host header."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == _DEFAULT_PORTS[self.scheme] else f"{host}:{self.port}"

    @property
    def href(self) -> str:
        """The normalised URL."""
        return f"{self.scheme}://{self.authority}{self.target}"


def parse_url(url: str, name: str | None = None) -> Url:
    """Parse and normalise `url`; only http and https with a host are accepted.

    Parameters
    ----------
    url : str
        The URL as given (by a user, or a redirect's Location).
    name : str, optional
        How error messages name the input (the URL itself, escaped, by default).

    Raises
    ------
    SourceError
        For another scheme, user name or password, an empty or invalid host, an invalid
        port or unbalanced IPv6 brackets: ``"<name>: <cause>"``.
    """
    name = printable(url) if name is None else name
    text = re.sub(r"[\t\n\r]", "", url.strip("".join(map(chr, range(0x21)))))
    match = _SCHEME.match(text)
    scheme = match[0][:-1].lower() if match else ""
    if scheme not in _DEFAULT_PORTS:
        raise SourceError(f"{name}: only http and https URLs are fetched (got {repr(scheme) if scheme else 'none'})")
    rest = text[len(scheme) + 1 :].split("#", 1)[0]
    before_query, question, query = rest.partition("?")
    before_query = before_query.replace("\\", "/").lstrip("/")  # http:\\host, http:///host: as browsers
    authority, slash, path = before_query.partition("/")
    host, port = _authority(authority, name, scheme)
    target = _percent_encode("/" + path, _PATH_UNSAFE)
    if question:
        target += "?" + _percent_encode(query, _QUERY_UNSAFE)
    return Url(scheme, host, port, target)


def resolve_location(base: Url, location: str, name: str) -> str:
    """The absolute URL a redirect's ``Location`` header (as `http.client` decodes it) points to.

    `name` names the fetch in the error raised for a Location that cannot be joined to `base`.
    """
    raw = location.encode("latin-1", "replace")  # http.client decodes header bytes as latin-1
    ascii_text = "".join(chr(b) if b < 0x80 else f"%{b:02X}" for b in raw)
    path, question, query = ascii_text.partition("?")
    ascii_text = path.replace("\\", "/") + question + query
    try:
        return urllib.parse.urljoin(base.href, ascii_text)
    except ValueError as exc:
        raise SourceError(f"{name}: redirected to a malformed URL {ascii_text!r}") from exc


def _authority(authority: str, name: str, scheme: str) -> tuple[str, int]:
    """(host, port) of ``[userinfo@]host[:port]``."""
    userinfo, at, hostport = authority.rpartition("@")
    if at and userinfo:
        raise SourceError(f"{name}: URLs with a user name or password are not fetched")
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SourceError(f"{name}: malformed URL: '[' without ']' around the IPv6 address")
        host, after = _ipv6_host(hostport[1:end], name), hostport[end + 1 :]
        if after and not after.startswith(":"):
            raise SourceError(f"{name}: malformed URL: {after!r} after the IPv6 address")
        port_text = after[1:]
    else:
        if "]" in hostport:
            raise SourceError(f"{name}: malformed URL: ']' without '['")
        raw_host, _, port_text = hostport.partition(":")
        host = _domain(raw_host, name)
    return host, _port(port_text, name, scheme)


def _ipv6_host(text: str, name: str) -> str:
    if "%" in text:
        raise SourceError(f"{name}: IPv6 zone identifiers ('%') are not supported")
    try:
        return str(ipaddress.IPv6Address(text))
    except ValueError as exc:
        raise SourceError(f"{name}: malformed URL: {text!r} is not an IPv6 address") from exc


def _port(text: str, name: str, scheme: str) -> int:
    if not text:
        return _DEFAULT_PORTS[scheme]
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 65536:
        raise SourceError(f"{name}: invalid port {text!r} (a number from 1 to 65535)")
    return int(text)


def _domain(raw: str, name: str) -> str:
    """The host name in ASCII (UTS #46 mapping, then IDNA for non-ASCII labels)."""
    import idna  # imported on first use: only URL fetches need it

    if not raw:
        raise SourceError(f"{name}: the URL names no host")
    text = raw
    try:
        text = urllib.parse.unquote(raw, errors="strict") if "%" in raw else raw
        mapped = idna.uts46_remap(text, std3_rules=False, transitional=False)
        # non-ASCII labels: Punycode of the mapped label (UTS #46 ToASCII, as browsers; the
        # mapping above already refused the code points UTS #46 disallows)
        labels = [
            label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
            for label in mapped.split(".")
        ]
    except (idna.IDNAError, UnicodeError, ValueError) as exc:
        raise SourceError(f"{name}: invalid host name {text!r} ({exc})") from exc
    host = ".".join(labels).lower()
    bad = sorted(set(host) & _FORBIDDEN_HOST)
    if bad or not host.strip("."):
        why = f"contains {bad[0]!r}" if bad else "is empty"
        raise SourceError(f"{name}: invalid host name {text!r} (it {why})")
    ipv4 = _ipv4(host, name)
    return host if ipv4 is None else str(ipv4)


def _ipv4(host: str, name: str) -> ipaddress.IPv4Address | None:
    """The IPv4 address `host` spells (WHATWG: decimal, 0x hex, 0 octal, 1 to 4 parts), or None."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not re.fullmatch(r"0[xX][0-9a-fA-F]*|[0-9]+", parts[-1]):
        return None  # a name, not a number
    numbers = []
    for part in parts:
        if re.fullmatch(r"0[xX][0-9a-fA-F]*", part):
            numbers.append(int(part[2:] or "0", 16))
        elif re.fullmatch(r"0[0-7]+", part):
            numbers.append(int(part, 8))
        elif re.fullmatch(r"0|[1-9][0-9]*", part):
            numbers.append(int(part))
        else:
            raise SourceError(f"{name}: invalid IPv4 address {host!r}")
    if len(numbers) > 4 or any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise SourceError(f"{name}: invalid IPv4 address {host!r}")
    value = numbers[-1]
    for i, n in enumerate(numbers[:-1]):
        value += n << (8 * (3 - i))
    return ipaddress.IPv4Address(value)


def _percent_encode(text: str, unsafe: frozenset[int]) -> str:
    """`text` with C0 controls, `unsafe` bytes and non-ASCII percent-encoded as UTF-8."""
    try:
        data = text.encode("utf-8", "surrogateescape")  # recovers undecodable argv bytes
    except UnicodeEncodeError:
        data = text.encode("utf-8", "replace")
    return "".join(f"%{b:02X}" if b <= 0x20 or b >= 0x7F or b in unsafe else chr(b) for b in data)
