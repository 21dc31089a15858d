"""Helpers for the web server tests: a server on 127.0.0.1 with given settings, raw sockets, slow inputs.

Every attack built here is generated in code (nothing is committed) and bounded in size.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

from conftest import encode
from PIL import Image

from chromapal.web import Settings, create_app
from chromapal.web.server import serve_in_thread

#: Extra seconds allowed on top of a bound before a test calls it broken (2 shared cores).
SLACK = 2.0


@contextmanager
def server(**settings: object) -> Iterator[tuple[str, int]]:
    """Serve a fresh app with `settings` on 127.0.0.1; yield (base URL, port)."""
    with serve_in_thread(create_app(Settings(**settings))) as base:  # type: ignore[arg-type]
        yield base, int(base.rsplit(":", 1)[1])


def connect(port: int, timeout: float = 10.0) -> socket.socket:
    """A client socket to the test server."""
    return socket.create_connection(("127.0.0.1", port), timeout=timeout)


def read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    """Everything the server sends until it closes the connection, and the seconds that took."""
    started = time.monotonic()
    sock.settimeout(limit)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except ConnectionResetError:
        pass
    return b"".join(chunks), time.monotonic() - started


def is_closed(sock: socket.socket) -> bool:
    """Whether the server has closed `sock` (EOF or reset already waiting), without blocking."""
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.setblocking(True)


def slow_jpeg(side: int = 7000, repeats: int = 88) -> bytes:
    """A progressive JPEG whose last scan is repeated (issue 11).

    The default, 7000x7000 with 98 scans (under the 100-scan and 50-megapixel limits),
    is 295 KB and takes about 4 s to decode.
    """
    data = encode(Image.new("RGB", (side, side), (120, 130, 140)), "JPEG", progressive=True, quality=90)
    last_scan = data[data.rfind(b"\xff\xda") : -2]  # from the last SOS marker to before EOI
    return data[:-2] + last_scan * repeats + b"\xff\xd9"


#: Start of a multipart body whose file part is still arriving.
PART = b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'


def slow_body_request(length: int) -> bytes:
    """The head of a multipart upload to /api/palette declaring `length` body bytes."""
    return (
        b"POST /api/palette HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: multipart/form-data; boundary=xyz\r\n"
        b"Content-Length: %d\r\n\r\n" % length
    )
