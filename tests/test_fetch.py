"""chromapal.fetch, chromapal.urls and chromapal.addresses: the one URL fetcher.

Deadlines are tested against real servers on 127.0.0.1 (threads and raw sockets) that
trickle a byte every `TRICKLE_GAP` seconds, far less than the deadline, in each phase of
an answer: a per-call socket timeout would never fire, only the total deadline does.
"""

from __future__ import annotations

import ipaddress
import itertools
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator

import pytest
from conftest import encode
from PIL import Image

from chromapal.addresses import allow_any, blocked_reason
from chromapal.errors import SourceError
from chromapal.fetch import fetch_url, looks_like_html
from chromapal.urls import parse_url

#: The deadline given to the trickle tests, the slack allowed past it, and the gap
#: between two trickled bytes (much shorter than the deadline).
DEADLINE = 0.6
SLACK = 0.75
TRICKLE_GAP = 0.05
#: Seconds after which a test that could hang is failed.
HANG_TIMEOUT = 20

Handler = Callable[[socket.socket, bytes], None]


# -- a raw scripted server on 127.0.0.1 -------------------------------------------------------


class RawServer:
    """A TCP server on 127.0.0.1 that reads each request head and hands the socket to `handler`.

    With ``read_head=False`` the socket is handed over at once (for a TLS handshake).
    """

    def __init__(self, handler: Handler, *, read_head: bool = True, host: str = "127.0.0.1") -> None:
        self.handler = handler
        self.read_head = read_head
        self.stop = threading.Event()
        self.requests: list[bytes] = []
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.listener = socket.create_server((host, 0), family=family)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://{host if family == socket.AF_INET else f'[{host}]'}:{self.port}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            head = b""
            try:
                while self.read_head and b"\r\n\r\n" not in head and len(head) < 65536:
                    data = conn.recv(4096)
                    if not data:
                        return
                    head += data
                self.requests.append(head)
                self.handler(conn, head)
            except OSError:
                pass  # the client gave up, as the deadline tests intend

    def trickle(self, conn: socket.socket, data: Iterable[int], gap: float = TRICKLE_GAP) -> None:
        """Send `data` a byte every `gap` seconds until it ends, the client leaves or the test ends."""
        for byte in data:
            if self.stop.is_set():
                return
            conn.sendall(bytes([byte]))
            time.sleep(gap)

    def close(self) -> None:
        """Stop accepting and end every trickle."""
        self.stop.set()
        self.listener.close()


@pytest.fixture
def raw_server() -> Iterator[Callable[..., RawServer]]:
    """Start `RawServer`s for a test; stop them after it."""
    servers: list[RawServer] = []

    def start(handler: Handler, read_head: bool = True, host: str = "127.0.0.1") -> RawServer:
        servers.append(RawServer(handler, read_head=read_head, host=host))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def forever(text: bytes) -> Iterator[int]:
    """The bytes of `text`, repeated without end."""
    return itertools.cycle(text)


def timed_failure(url: str, **options: object) -> tuple[str, float]:
    """Fetch `url` expecting a SourceError; return its message and the seconds it took."""
    start = time.monotonic()
    with pytest.raises(SourceError) as info:
        fetch_url(url, **options)  # type: ignore[arg-type]
    return str(info.value), time.monotonic() - start


# -- one total deadline, every phase ------------------------------------------------------------

_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"


def _status_line(server: RawServer, conn: socket.socket) -> None:
    server.trickle(conn, itertools.chain(b"HTTP/1.1 200 ", forever(b"O")))


def _headers(server: RawServer, conn: socket.socket) -> None:
    conn.sendall(_HEAD)
    server.trickle(conn, itertools.chain(b"X-Slow: ", forever(b"a")))


def _many_header_lines(server: RawServer, conn: socket.socket) -> None:
    conn.sendall(_HEAD)
    server.trickle(conn, forever(b"X:1\r\n"), gap=0.01)  # lines, not one long line


def _continue_flood(server: RawServer, conn: socket.socket) -> None:
    server.trickle(conn, forever(b"HTTP/1.1 100 Continue\r\n\r\n"), gap=0.005)


def _chunk_size_line(server: RawServer, conn: socket.socket) -> None:
    conn.sendall(_HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
    server.trickle(conn, forever(b"0"))  # 000000... never ends the size line


def _chunk_data(server: RawServer, conn: socket.socket) -> None:
    conn.sendall(_HEAD + b"Transfer-Encoding: chunked\r\n\r\nffff\r\n")
    server.trickle(conn, forever(b"\0"))


def _chunk_extension(server: RawServer, conn: socket.socket) -> None:
    conn.sendall(_HEAD + b"Transfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n1;")
    server.trickle(conn, forever(b"x"))


def _body(server: RawServer, conn: socket.socket) -> None:
    conn.sendall(_HEAD + b"Content-Length: 100000\r\n\r\n")
    server.trickle(conn, forever(b"\0"))


def _silent(server: RawServer, conn: socket.socket) -> None:
    server.stop.wait(10)


@pytest.mark.timeout(HANG_TIMEOUT)
@pytest.mark.parametrize(
    ("script", "message"),
    [
        (_silent, "no answer within"),
        (_status_line, "no answer within"),
        (_headers, "no answer within"),
        (_many_header_lines, "no answer within"),
        (_continue_flood, "no answer within"),
        (_chunk_size_line, "not downloaded within"),
        (_chunk_data, "not downloaded within"),
        (_chunk_extension, "not downloaded within"),
        (_body, "not downloaded within"),
    ],
    ids=lambda value: getattr(value, "__name__", "")[1:] or None,
)
def test_a_trickling_server_is_cut_off_at_the_deadline(raw_server, script, message):
    """A byte every 50 ms in the status line, headers, chunk-size lines or body: stopped at the deadline."""
    server = raw_server(lambda conn, head: script(server, conn))
    url = f"{server.url}/slow.png"

    text, took = timed_failure(url, timeout=DEADLINE)

    assert text == f"{url}: {message} {DEADLINE:g} s"
    assert DEADLINE - 0.05 <= took < DEADLINE + SLACK


@pytest.mark.timeout(HANG_TIMEOUT)
def test_the_tls_handshake_is_under_the_deadline(raw_server):
    """An https server that announces a 16 KB TLS record and trickles it is cut off at the deadline."""
    def handshake(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"\x16\x03\x03\x40\x00")  # a handshake record of 16,384 bytes follows...
        server.trickle(conn, forever(b"\0"))  # ...a byte at a time

    server = raw_server(handshake, read_head=False)
    url = f"https://127.0.0.1:{server.port}/slow.png"

    text, took = timed_failure(url, timeout=DEADLINE)

    assert text == f"{url}: no answer within {DEADLINE:g} s"
    assert DEADLINE - 0.05 <= took < DEADLINE + SLACK


@pytest.mark.timeout(HANG_TIMEOUT)
def test_connecting_is_under_the_deadline():
    """A listener whose accept queue is full never completes the handshake: cut off at the deadline."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    held = []
    try:
        for _ in range(16):  # fill the accept queue until a connection stalls
            probe = socket.socket()
            probe.settimeout(0.2)
            try:
                probe.connect(("127.0.0.1", port))
                held.append(probe)
            except TimeoutError:
                probe.close()
                break
        else:
            pytest.skip("this kernel never stalls a connection to a full accept queue")
        url = f"http://127.0.0.1:{port}/a.png"

        text, took = timed_failure(url, timeout=DEADLINE)
    finally:
        for sock in held:
            sock.close()
        listener.close()

    assert text == f"{url}: no answer within {DEADLINE:g} s"
    assert DEADLINE - 0.05 <= took < DEADLINE + SLACK


@pytest.mark.timeout(HANG_TIMEOUT)
def test_resolving_the_host_is_under_the_deadline(monkeypatch):
    """A resolver that hangs does not hold the fetch past its deadline."""
    def hanging_resolver(*args: object, **kwargs: object) -> list:
        time.sleep(3)
        raise socket.gaierror("too late")

    monkeypatch.setattr(socket, "getaddrinfo", hanging_resolver)

    text, took = timed_failure("http://images.example/a.png", timeout=DEADLINE)

    assert text == f"http://images.example/a.png: no answer within {DEADLINE:g} s"
    assert took < DEADLINE + SLACK


@pytest.mark.timeout(HANG_TIMEOUT)
def test_an_address_that_drops_connections_leaves_time_for_the_next(raw_server, png, monkeypatch):
    """A name resolving to a stalled ::1 listener and a working 127.0.0.1 server is fetched in time."""
    if not socket.has_ipv6:
        pytest.skip("no IPv6")
    server = raw_server(_answer(png))
    try:
        stalled = socket.create_server(("::1", server.port), family=socket.AF_INET6, backlog=0)
    except OSError:
        pytest.skip("cannot listen on [::1] at the test server's port")
    held = []
    try:
        for _ in range(16):  # fill the accept queue until a connection stalls
            probe = socket.socket(socket.AF_INET6)
            probe.settimeout(0.2)
            try:
                probe.connect(("::1", server.port))
                held.append(probe)
            except TimeoutError:
                probe.close()
                break
        else:
            pytest.skip("this kernel never stalls a connection to a full accept queue")
        real = socket.getaddrinfo

        def both(host: object, port: object, *args: object, **kwargs: object) -> list:
            return real("::1", port, *args, **kwargs) + real("127.0.0.1", port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", both)
        start = time.monotonic()

        body = fetch_url(f"http://images.example:{server.port}/a.png", timeout=2 * DEADLINE)
        took = time.monotonic() - start
    finally:
        for sock in held:
            sock.close()
        stalled.close()

    assert body == png
    assert DEADLINE - 0.05 <= took < 2 * DEADLINE  # half the time on ::1, then 127.0.0.1 at once


@pytest.mark.timeout(HANG_TIMEOUT)
def test_the_deadline_covers_every_redirect_hop(raw_server):
    """Five hops of 0.25 s each: one total deadline stops them, not a deadline per hop."""
    def slow_redirect(conn: socket.socket, head: bytes) -> None:
        time.sleep(0.25)
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: /next.png\r\nContent-Length: 0\r\n\r\n")

    server = raw_server(slow_redirect)
    url = f"{server.url}/first.png"

    text, took = timed_failure(url, timeout=DEADLINE)

    assert text == f"{url} -> {server.url}/next.png: no answer within {DEADLINE:g} s"
    assert took < DEADLINE + SLACK
    assert len(server.requests) <= 3  # 0.25 s each: the third is under way at the deadline


# -- answers --------------------------------------------------------------------------------


def _answer(body: bytes, content_type: bytes = b"image/png") -> Handler:
    def handler(conn: socket.socket, head: bytes) -> None:
        conn.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Type: " + content_type
            + b"\r\nContent-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )

    return handler


@pytest.fixture(scope="module")
def png(small_photo: Image.Image) -> bytes:
    """The small photo as PNG bytes."""
    return encode(small_photo, "PNG")


@pytest.mark.timeout(HANG_TIMEOUT)
@pytest.mark.parametrize(
    ("content_type", "body", "message"),
    [
        (b"text/html; charset=utf-8", b"<p>Sign in to see this image</p>", "text/html"),
        (b"application/xhtml+xml", b"<?xml version='1.0'?><html/>", "application/xhtml+xml"),
        (b"image/png", b"\n  <!DOCTYPE html><html><body>404</body></html>", "text/html"),  # sniffed
        (b"application/octet-stream", b"\xef\xbb\xbf<HTML>\n", "text/html"),  # sniffed
    ],
)
def test_html_answers_are_named(raw_server, content_type, body, message):
    """An answer declared or sniffed as HTML (a login or error page) says so."""
    server = raw_server(_answer(body, content_type))

    text, _ = timed_failure(f"{server.url}/a.png")

    assert text == f"{server.url}/a.png: the server sent {message}, not an image"


def test_html_sniffing_leaves_images_alone(png):
    """PNG, JPEG, GIF and SVG starts are not HTML; HTML starts are, whatever the case."""
    for data in (png, b"\xff\xd8\xff\xe0", b"GIF89a", b"<svg xmlns='http://www.w3.org/2000/svg'/>",
                 b"<?xml version='1.0'?><svg/>", b"<bogus>", b"<brick>", b""):
        assert not looks_like_html(data), data
    for data in (b"<!DOCTYPE HTML>", b" \r\n<html lang=en>", b"<Body>", b"<!-- x -->", b"<p>hi"):
        assert looks_like_html(data), data


@pytest.mark.timeout(HANG_TIMEOUT)
def test_unsafe_characters_are_sent_percent_encoded(raw_server, png):
    """Spaces, quotes and non-ASCII in the path and query reach the server encoded; %XX is kept."""
    server = raw_server(_answer(png))

    body = fetch_url(f"{server.url}/my photos/été\u00a0 <1>.png?size=a b&q=\"x\"&k=%2F#part")

    assert body == png
    request_line = server.requests[0].split(b"\r\n")[0]
    assert request_line == (
        b"GET /my%20photos/%C3%A9t%C3%A9%C2%A0%20%3C1%3E.png?size=a%20b&q=%22x%22&k=%2F HTTP/1.1"
    )


@pytest.mark.timeout(HANG_TIMEOUT)
def test_idna_host_names_are_resolved_and_sent_in_ascii(raw_server, png, monkeypatch):
    """A Unicode host name is looked up and sent (Host header) as IDNA, resolved once per hop."""
    server = raw_server(_answer(png))
    asked: list[object] = []
    real = socket.getaddrinfo

    def resolver(host: object, port: object, *args: object, **kwargs: object) -> list:
        asked.append(host)
        return real("127.0.0.1", port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)

    assert fetch_url(f"http://Bücher.Example:{server.port}/a.png") == png
    assert asked == ["xn--bcher-kva.example"]
    assert f"\r\nHost: xn--bcher-kva.example:{server.port}\r\n".encode() in server.requests[0]


@pytest.mark.timeout(HANG_TIMEOUT)
def test_ipv6_literal_urls_are_fetched(raw_server, png):
    """``http://[::1]:port/`` connects over IPv6 and sends ``Host: [::1]:port``."""
    try:
        server = raw_server(_answer(png), host="::1")
    except OSError:
        pytest.skip("cannot listen on [::1]")

    assert fetch_url(f"{server.url}/a.png") == png
    assert f"\r\nHost: [::1]:{server.port}\r\n".encode() in server.requests[0]


@pytest.mark.timeout(HANG_TIMEOUT)
def test_redirect_locations_are_percent_encoded_too(raw_server, png):
    """A Location with spaces and raw UTF-8 bytes is followed with those bytes percent-encoded."""
    def handler(conn: socket.socket, head: bytes) -> None:
        if head.startswith(b"GET /first "):
            conn.sendall(
                b"HTTP/1.1 302 Found\r\nLocation: /new place/\xc3\xa9t\xc3\xa9.png?a b\r\n"
                b"Content-Length: 0\r\n\r\n"
            )
        else:
            _answer(png)(conn, head)

    server = raw_server(handler)

    assert fetch_url(f"{server.url}/first") == png
    assert [r.split(b"\r\n")[0] for r in server.requests] == [
        b"GET /first HTTP/1.1",
        b"GET /new%20place/%C3%A9t%C3%A9.png?a%20b HTTP/1.1",
    ]


@pytest.mark.timeout(HANG_TIMEOUT)
def test_size_limit_holds_for_chunked_answers(raw_server):
    """A chunked answer with no declared length is stopped past the size limit."""
    def endless(conn: socket.socket, head: bytes) -> None:
        conn.sendall(_HEAD + b"Transfer-Encoding: chunked\r\n\r\n")
        for _ in range(100):
            conn.sendall(b"4000\r\n" + b"\0" * 0x4000 + b"\r\n")

    server = raw_server(endless)

    text, _ = timed_failure(f"{server.url}/a.png", max_bytes=100_000)

    assert text == f"{server.url}/a.png: more than the 100,000-byte limit"


@pytest.mark.timeout(HANG_TIMEOUT)
def test_a_redirect_to_a_malformed_url_is_named(raw_server):
    """A Location that is no URL is refused with the URL that led to it."""
    def redirect(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 302 Found\r\nLocation: http://[::1/x\r\nContent-Length: 0\r\n\r\n")

    server = raw_server(redirect)

    text, _ = timed_failure(f"{server.url}/a.png")

    assert text == f"{server.url}/a.png: redirected to a malformed URL 'http://[::1/x'"


@pytest.mark.timeout(HANG_TIMEOUT)
def test_timeout_must_be_a_number(raw_server, png):
    """A NaN deadline is a ValueError at once; an infinite one is accepted."""
    server = raw_server(_answer(png))

    with pytest.raises(ValueError, match="timeout must be a number of seconds"):
        fetch_url(f"{server.url}/a.png", timeout=float("nan"))
    assert fetch_url(f"{server.url}/a.png", timeout=float("inf")) == png
    assert len(server.requests) == 1


# -- URLs -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "href"),
    [
        ("http://example.com/a b.png", "http://example.com/a%20b.png"),
        ("  http://example.com/a\tb\n.png  ", "http://example.com/ab.png"),
        ("HTTPS://EXAMPLE.com:443/x?y=1 2#frag", "https://example.com/x?y=1%202"),
        ("http://example.com/50%25%20off/%zz", "http://example.com/50%25%20off/%zz"),
        ("http://example.com/{a}`b`|c|", "http://example.com/%7Ba%7D%60b%60|c|"),
        ("http://example.com/?q=it's <b>", "http://example.com/?q=it%27s%20%3Cb%3E"),
        ("http:\\\\example.com\\a\\b.png", "http://example.com/a/b.png"),
        ("http://example.com", "http://example.com/"),
        ("http://@example.com:8080", "http://example.com:8080/"),
        ("https://bücher.de/ü.png", "https://xn--bcher-kva.de/%C3%BC.png"),
        ("https://faß.de/", "https://xn--fa-hia.de/"),  # non-transitional, as browsers
        ("http://ＥＸＡＭＰＬＥ。com/", "http://example.com/"),  # full-width letters and dot
        ("http://☃.net/", "http://xn--n3h.net/"),
        ("http://ex%61mple.com/", "http://example.com/"),
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://0177.0.0.1/", "http://127.0.0.1/"),
        ("http://[0:0::1]:8000/", "http://[::1]:8000/"),
        ("http://[::ffff:7f00:1]/", "http://[::ffff:7f00:1]/"),
    ],
)
def test_urls_are_normalised_as_browsers_do(url, href):
    """Unsafe characters are percent-encoded, hosts IDNA-encoded, numeric IPv4 hosts read as IPv4."""
    assert parse_url(url).href == href


@pytest.mark.parametrize(
    ("url", "cause"),
    [
        ("http://[::1/", "malformed URL: '[' without ']' around the IPv6 address"),
        ("http://[::1]x/", "malformed URL: 'x' after the IPv6 address"),
        ("http://[::g]/", "malformed URL: '::g' is not an IPv6 address"),
        ("http://::1]/", "malformed URL: ']' without '['"),
        ("http://[fe80::1%25eth0]/", "IPv6 zone identifiers ('%') are not supported"),
        ("http://example.com:99999/", "invalid port '99999' (a number from 1 to 65535)"),
        ("http://example.com:0/", "invalid port '0' (a number from 1 to 65535)"),
        ("http://example.com:8o/", "invalid port '8o' (a number from 1 to 65535)"),
        ("http://example.com:-1/", "invalid port '-1' (a number from 1 to 65535)"),
        ("http:///", "the URL names no host"),
        ("http://", "the URL names no host"),
        ("http://:8080/a.png", "the URL names no host"),
        ("http://exa mple.com/", "invalid host name 'exa mple.com' (it contains ' ')"),
        ("http://exa%00mple.com/", "invalid host name 'exa\\x00mple.com' (it contains '\\x00')"),
        ("http://1.2.3.4.5/", "invalid IPv4 address '1.2.3.4.5'"),
        ("http://256.0.0.1/", "invalid IPv4 address '256.0.0.1'"),
        ("http://user:secret@example.com/", "URLs with a user name or password are not fetched"),
        ("ftp://example.com/a.png", "only http and https URLs are fetched (got 'ftp')"),
        ("file:///etc/passwd", "only http and https URLs are fetched (got 'file')"),
        ("example.com/a.png", "only http and https URLs are fetched (got none)"),
    ],
)
def test_malformed_urls_name_the_url_and_the_cause(url, cause):
    """Malformed URLs are a SourceError '<url>: <cause>' before any connection."""
    with pytest.raises(SourceError) as info:
        fetch_url(url)

    assert str(info.value) == f"{url}: {cause}"


def test_malformed_urls_are_4xx_in_the_web_app():
    """The web app answers a malformed or refused URL with 400 and the one-line message."""
    pytest.importorskip("fastapi")
    pytest.importorskip("httpx")
    from fastapi.testclient import TestClient

    from chromapal.web import Settings, create_app

    client = TestClient(create_app(Settings(allow_urls=True)), base_url="http://127.0.0.1")
    for url, cause in [
        ("http://[::1/", "malformed URL: '[' without ']' around the IPv6 address"),
        ("http://example.com:70000/a.png", "invalid port '70000' (a number from 1 to 65535)"),
        ("http://[2002:7f00:1::]/a.png", "refusing to fetch from a 6to4-embedded loopback address (2002:7f00:1::)"),
    ]:
        response = client.post("/api/palette", data={"url": url})

        assert response.status_code == 400, url
        assert response.json() == {"error": f"{url}: {cause}"}


# -- the address policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        # IPv4 (IANA special-purpose registry, multicast, broadcast)
        ("0.0.0.0", "this-network"), ("0.1.2.3", "this-network"),
        ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("100.64.0.1", "shared (carrier-grade NAT)"), ("100.127.255.254", "shared (carrier-grade NAT)"),
        ("127.0.0.1", "loopback"), ("127.255.255.254", "loopback"),
        ("169.254.169.254", "link-local"),
        ("192.0.0.1", "IETF protocol assignment"), ("192.0.0.9", "IETF protocol assignment"),
        ("192.0.2.1", "documentation (TEST-NET-1)"), ("198.51.100.7", "documentation (TEST-NET-2)"),
        ("203.0.113.9", "documentation (TEST-NET-3)"),
        ("192.88.99.1", "6to4 relay anycast (deprecated)"),
        ("198.18.0.1", "benchmarking"), ("198.19.255.255", "benchmarking"),
        ("224.0.0.1", "multicast"), ("239.255.255.250", "multicast"),
        ("240.0.0.1", "reserved"), ("255.255.255.254", "reserved"), ("255.255.255.255", "broadcast"),
        # IPv6
        ("::", "unspecified"), ("::1", "loopback"), ("::7f00:1", "IPv4-compatible (deprecated)"),
        ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"),
        ("::ffff:169.254.169.254", "link-local"),
        ("64:ff9b::7f00:1", "NAT64-embedded loopback"), ("64:ff9b::a9fe:a9fe", "NAT64-embedded link-local"),
        ("64:ff9b:1::808:808", "local-use NAT64"),
        ("100::1", "discard-only"),
        ("2001:2::1", "IETF protocol assignment"), ("2001:1::1", "IETF protocol assignment"),
        ("2001:10::1", "IETF protocol assignment"), ("2001:1ff:ffff::1", "IETF protocol assignment"),
        # Teredo 2001:0:<server>:<flags>:<port>:<client XOR ffffffff>
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo-embedded loopback"),  # client 127.0.0.1
        ("2001:0:a00:1:8000:63bf:f7f7:f7f7", "Teredo-embedded private"),  # server 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo-embedded documentation (TEST-NET-1)"),  # 192.0.2.45
        ("2001:db8::1", "documentation"), ("3fff::1", "documentation"), ("3fff:fff::1", "documentation"),
        ("2002:7f00:1::", "6to4-embedded loopback"), ("2002:a9fe:a9fe::", "6to4-embedded link-local"),
        ("2002:a00:1::1", "6to4-embedded private"),
        ("2002:c058:6301::", "6to4-embedded 6to4 relay anycast (deprecated)"),
        ("fc00::1", "unique-local"), ("fd12:3456::1", "unique-local"),
        ("fe80::1", "link-local"), ("febf::1", "link-local"),
        ("fec0::1", "site-local (deprecated)"), ("feff::1", "site-local (deprecated)"),
        ("ff02::1", "multicast"), ("ff0e::1", "multicast"),
        ("4000::1", "reserved"), ("1000::1", "reserved"), ("8000::1", "reserved"), ("5f00::1", "reserved"),
        ("e000::1", "reserved"),
    ],
)
def test_public_only_policy_refuses_each_special_range(address, reason):
    """Every special-purpose range, and IPv6 forms embedding a refused IPv4 address, is named."""
    assert blocked_reason(ipaddress.ip_address(address)) == reason


@pytest.mark.parametrize(
    "address",
    [
        "1.1.1.1", "8.8.8.8", "93.184.216.34", "100.63.255.255", "100.128.0.0", "172.15.255.255",
        "172.32.0.0", "192.0.1.255", "192.0.3.0", "192.88.98.255", "192.88.100.0", "192.167.255.255",
        "198.17.255.255", "198.20.0.0", "223.255.255.255", "9.255.255.255", "11.0.0.0", "126.255.255.255",
        "128.0.0.0", "169.253.255.255", "169.255.0.0",
        "2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001:80b::200e", "2000::1",
        "2001:200::1", "2001:db7:ffff::1", "2001:db9::1", "3ffe::1", "3fff:1000::1",
        "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1", "2002:5db8:d822::",
        "2001:0:4136:e378:8000:63bf:f7f7:f7f7",  # Teredo: server 65.54.227.120, client 8.8.8.8
    ],
)
def test_public_only_policy_lets_global_unicast_through(address):
    """Public IPv4, 2000::/3 outside the special ranges, and embeddings of public IPv4 are allowed."""
    assert blocked_reason(ipaddress.ip_address(address)) is None


def test_policy_ignores_ipv6_scope_and_allow_any_allows_all():
    """A scope id does not change the verdict; `allow_any` refuses nothing."""
    assert blocked_reason(ipaddress.ip_address("fe80::1%eth0")) == "link-local"
    assert blocked_reason(ipaddress.ip_address("2606:4700:4700::1111%3")) is None
    assert allow_any(ipaddress.ip_address("127.0.0.1")) is None


@pytest.mark.timeout(HANG_TIMEOUT)
def test_policy_is_asked_on_every_hop_before_connecting(raw_server, png):
    """The first hop may be allowed and the redirect refused; the refused address is never contacted."""
    seen: list[str] = []

    def only_this_loopback(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
        seen.append(str(ip))
        return None if str(ip) == "127.0.0.1" else blocked_reason(ip)

    def redirect(conn: socket.socket, head: bytes) -> None:
        conn.sendall(b"HTTP/1.1 301 Moved\r\nLocation: http://[2002:a9fe:a9fe::]/latest\r\nContent-Length: 0\r\n\r\n")

    server = raw_server(redirect)
    url = f"{server.url}/a.png"

    text, _ = timed_failure(url, policy=only_this_loopback)

    assert text == (
        f"{url} -> http://[2002:a9fe:a9fe::]/latest: "
        "refusing to fetch from a 6to4-embedded link-local address (2002:a9fe:a9fe::)"
    )
    assert seen == ["127.0.0.1", "2002:a9fe:a9fe::"]
    assert len(server.requests) == 1


@pytest.mark.timeout(HANG_TIMEOUT)
def test_default_policy_allows_loopback_and_public_only_refuses_it(raw_server, png):
    """The library and CLI fetch from this machine by default; the public-only policy refuses it."""
    server = raw_server(_answer(png))

    assert fetch_url(f"{server.url}/a.png") == png
    text, _ = timed_failure(f"{server.url}/a.png", policy=blocked_reason)

    assert text == f"{server.url}/a.png: refusing to fetch from a loopback address (127.0.0.1)"
    assert len(server.requests) == 1


@pytest.mark.timeout(HANG_TIMEOUT)
def test_url_policy_default_reaches_extract(raw_server, png, monkeypatch):
    """`chromapal.fetch.URL_POLICY` is the default of every fetch, `chromapal.extract`'s included."""
    import chromapal
    from chromapal import fetch as fetch_module

    server = raw_server(_answer(png))
    monkeypatch.setattr(fetch_module, "URL_POLICY", blocked_reason)

    with pytest.raises(SourceError, match=r"refusing to fetch from a loopback address \(127\.0\.0\.1\)$"):
        chromapal.extract(f"{server.url}/a.png", k=2)
    assert server.requests == []
