"""The web server's bounds, attacked over real sockets on 127.0.0.1.

Slow heads, slow bodies, idle connections, too many connections, malformed URLs,
unbounded settings. Every attack is generated here, bounded in count and time, and stops by itself. The
per-image deadline and the worker processes are tested in test_web_workers.py.
"""

from __future__ import annotations

import json
import re
import time
from contextlib import ExitStack

import pytest
from PIL import Image

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
from conftest import encode  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from web_attacks import (  # noqa: E402
    PART,
    SLACK,
    connect,
    is_closed,
    read_until_closed,
    server,
    slow_body_request,
)

from chromapal.web import Settings, create_app  # noqa: E402


@pytest.fixture(scope="module")
def photo_png(small_photo: Image.Image) -> bytes:
    """The small photo as PNG bytes."""
    return encode(small_photo, "PNG")


# -- request heads, bodies and connections ---------------------------------------------------


def test_partial_request_head_is_closed_with_408_after_the_header_timeout():
    """A request line and half the headers, then silence: 408 and closed after header_timeout."""
    with server(header_timeout=1.0) as (_, port), connect(port) as sock:
        sock.sendall(b"POST /api/palette HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le")
        reply, waited = read_until_closed(sock, 1.0 + SLACK + 5)

    assert 0.8 < waited < 1.0 + SLACK
    assert reply.startswith(b"HTTP/1.1 408 ")
    assert json.loads(reply.split(b"\r\n\r\n", 1)[1]) == {
        "error": "the request line and headers did not arrive within 1 s"
    }


def test_silent_connection_is_closed_after_the_header_timeout():
    """A connection that never sends a byte is closed (quietly) after header_timeout."""
    with server(header_timeout=1.0) as (_, port), connect(port) as sock:
        reply, waited = read_until_closed(sock, 1.0 + SLACK + 5)

    assert reply == b""
    assert 0.8 < waited < 1.0 + SLACK


def test_a_trickled_head_does_not_extend_the_deadline():
    """One header byte every 0.2 s still ends at header_timeout, not at the last byte + timeout."""
    with server(header_timeout=1.0) as (_, port), connect(port) as sock:
        started = time.monotonic()
        sock.sendall(b"GET / HTTP/1.1\r\n")
        with pytest.raises(OSError):  # noqa: PT012 - the server hangs up in the middle of the loop
            for _ in range(50):  # 10 s of trickling, if nothing stopped it
                time.sleep(0.2)
                sock.sendall(b"X")
                if is_closed(sock):
                    raise ConnectionResetError
        waited = time.monotonic() - started

    assert waited < 1.0 + SLACK


def test_keep_alive_connection_gets_a_new_head_deadline():
    """After an answer, a half-sent second request on the same connection is closed in time too."""
    with server(header_timeout=1.0, keep_alive=30) as (_, port), connect(port) as sock:
        sock.sendall(b"GET /api/session/x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        time.sleep(0.3)  # answered by now
        sock.sendall(b"GET / HTTP/1.1\r\nHo")
        reply, waited = read_until_closed(sock, 1.0 + SLACK + 5)

    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", reply)
    assert statuses == [b"405", b"408"]
    assert waited < 1.0 + SLACK


def test_oversized_request_head_is_refused():
    """A head that grows past 16 KiB without ending is refused with a 400 at once, not buffered."""
    with server() as (_, port), connect(port) as sock:
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 40_000)
        except OSError:
            pass  # closed while we were sending
        reply, waited = read_until_closed(sock, SLACK + 5)

    assert reply.startswith(b"HTTP/1.1 400 ")
    assert waited < SLACK


def test_stalled_body_gets_408_and_is_closed():
    """Issue 11's attack: declares 5 MB, sends 20 bytes, then nothing: 408 after body_idle_timeout."""
    with server(body_idle_timeout=1.0) as (_, port), connect(port) as sock:
        sock.sendall(slow_body_request(5_000_000) + b"--xyz\r\nContent-Dispo")
        reply, waited = read_until_closed(sock, 1.0 + SLACK + 5)

    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 ")
    assert b"connection: close" in head.lower()
    assert json.loads(body) == {"error": "the request body stalled: nothing received for 1 s (20 bytes received)"}
    assert 0.8 < waited < 1.0 + SLACK


def test_trickled_body_gets_408_at_the_total_body_timeout():
    """A byte every 0.2 s never stalls, but the whole body has body_timeout seconds."""
    with server(body_idle_timeout=1.0, body_timeout=2.0) as (_, port), connect(port) as sock:
        started = time.monotonic()
        sock.sendall(slow_body_request(5_000_000) + PART)
        try:
            for _ in range(100):  # 20 s of trickling, if nothing stopped it
                sock.sendall(b"a")
                if is_closed(sock):
                    break
                time.sleep(0.2)
        except OSError:
            pass  # closed while we were sending
        sock.settimeout(5)
        waited = time.monotonic() - started

    assert 1.8 < waited < 2.0 + SLACK


def test_trickled_body_reply_names_the_total_limit():
    """The 408 for a slow whole body says which limit it hit."""
    with server(body_idle_timeout=5.0, body_timeout=1.0) as (_, port), connect(port) as sock:
        sock.sendall(slow_body_request(1000) + PART)
        for _ in range(4):  # never 5 s of silence, but 1.2 s in all
            time.sleep(0.3)
            sock.sendall(b"a")
        reply, _ = read_until_closed(sock, 1.0 + SLACK + 5)

    body = json.loads(reply.partition(b"\r\n\r\n")[2])
    assert body == {"error": f"the request body did not arrive within 1 s ({len(PART) + 3} bytes received); "
                    "send it faster or make it smaller"}


def test_idle_connections_cannot_crowd_out_a_real_client(photo_png):
    """300 idle sockets against max_connections=20: at most 10 stay open, a real upload still works."""
    with server(max_connections=20, header_timeout=3.0) as (base, port), ExitStack() as stack:
        idle = [stack.enter_context(connect(port)) for _ in range(300)]
        time.sleep(0.3)  # let the server accept them all
        started = time.monotonic()
        response = httpx.post(f"{base}/api/palette", files={"image": ("a.png", photo_png)}, data={"k": 3},
                              timeout=10)
        answered = time.monotonic() - started
        open_now = sum(not is_closed(s) for s in idle)
        time.sleep(3.0 + 0.5)
        open_later = sum(not is_closed(s) for s in idle)

    assert response.status_code == 200
    assert answered < SLACK
    assert open_now <= 10
    assert open_later == 0


def test_requests_beyond_max_connections_get_503():
    """With max_connections requests in progress, one more is answered 503 at once."""
    with server(max_connections=6, body_idle_timeout=5.0) as (base, port), ExitStack() as stack:
        for _ in range(6):  # requests whose bodies are still coming: each holds its connection
            sock = stack.enter_context(connect(port))
            sock.sendall(slow_body_request(1000) + PART)
            time.sleep(0.05)  # its head is read: it no longer counts as waiting for one
        time.sleep(0.3)
        started = time.monotonic()
        response = httpx.get(f"{base}/", timeout=10)
        answered = time.monotonic() - started

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5" and response.headers["connection"] == "close"
    assert re.fullmatch(r"the server has [67] connections open, its limit is 6; try again in a few seconds",
                        response.json()["error"])
    assert answered < SLACK


# -- malformed URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    ["http://[::1/", "http://[::1", "http://[zz::1]/a.png", "http://a b/", "http://x:99999/",
     "http://%zz/", "http://[::1]:x/", "http://", "ht!tp://x", "http://\u00ff\u0000/"],
)
def test_malformed_urls_are_4xx_with_one_line(url):
    """Every malformed URL is a 4xx with a one-line JSON error naming it, never a 500."""
    client = TestClient(create_app(Settings(allow_urls=True)), base_url="http://127.0.0.1")

    response = client.post("/api/palette", data={"url": url})

    assert 400 <= response.status_code < 500, response.text
    message = response.json()["error"]
    assert "\n" not in message and message


# -- settings ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [("timeout", 0), ("timeout", float("nan")), ("worker_wait", float("inf")), ("header_timeout", -1),
     ("workers", 0), ("max_connections", 2)],
)
def test_settings_refuse_unbounded_values(field, value):
    """No limit can be switched off by a zero, negative, infinite or NaN setting."""
    with pytest.raises(ValueError, match=f"Settings.{field} must be"):
        Settings(**{field: value})
