"""Shared fixtures: flat-colour images built in code, encoded files, a loopback HTTP server."""

from __future__ import annotations

import http.server
import io
import os
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

DATA = Path(__file__).parent / "data"
#: Size of the small photo every format test and the robustness test start from.
SMALL_SIZE = (96, 64)

RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)
#: Seconds the slow URL routes keep the client waiting (longer than any test timeout).
SLOW_SECONDS = 3.0


def flat_rows(spec: list[tuple[tuple[int, ...], int]], width: int = 10) -> np.ndarray:
    """Return an image of flat horizontal bands: `spec` is a list of (colour, rows)."""
    channels = len(spec[0][0])
    rows = [np.tile(np.array(color, np.uint8), (n, width, 1)) for color, n in spec]
    image = np.concatenate(rows, axis=0)
    assert image.shape[2] == channels
    return image


def png_with_size(width: int, height: int) -> bytes:
    """Return a PNG whose valid header declares `width` x `height` (pixel data a stub)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def encode(image: Image.Image, fmt: str, **options: object) -> bytes:
    """`image` saved in memory as `fmt`."""
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def _patch_png(data: bytearray, w: int, h: int) -> tuple[int, int]:
    data[16:24] = struct.pack(">II", w, h)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return w, h


def _patch_jpeg(data: bytearray, w: int, h: int) -> tuple[int, int]:
    at = max(data.find(b"\xff\xc0"), data.find(b"\xff\xc2"))
    w, h = min(w, 65_535), min(h, 65_535)
    data[at + 5 : at + 9] = struct.pack(">HH", h, w)
    return w, h


def _patch_gif(data: bytearray, w: int, h: int) -> tuple[int, int]:
    w, h = min(w, 65_535), min(h, 65_535)
    size = struct.pack("<HH", w, h)
    data[6:10] = size
    at = 13 + (3 << ((data[10] & 7) + 1) if data[10] & 0x80 else 0)
    while data[at] == 0x21:  # skip extension blocks up to the image descriptor
        at += 2
        while data[at]:
            at += data[at] + 1
        at += 1
    data[at + 5 : at + 9] = size
    return w, h


def _patch_webp(data: bytearray, w: int, h: int) -> tuple[int, int]:
    assert data[12:16] == b"VP8 "
    w, h = min(w, 16_383), min(h, 16_383)
    data[26:30] = struct.pack("<HH", w, h)
    return w, h


def _patch_tiff(data: bytearray, w: int, h: int) -> tuple[int, int]:
    (ifd,) = struct.unpack("<I", data[4:8])
    (count,) = struct.unpack("<H", data[ifd : ifd + 2])
    for i in range(count):
        at = ifd + 2 + 12 * i
        tag = struct.unpack("<H", data[at : at + 2])[0]
        if tag in (256, 257):  # ImageWidth, ImageLength, rewritten as LONG
            data[at + 2 : at + 12] = struct.pack("<HII", 4, 1, w if tag == 256 else h)
    return w, h


_PATCHERS = {
    "png": _patch_png,
    "jpg": _patch_jpeg,
    "gif": _patch_gif,
    "webp": _patch_webp,
    "tif": _patch_tiff,
}


def declare_size(ext: str, data: bytearray, width: int, height: int) -> tuple[int, int]:
    """Rewrite the size in the header of a Pillow-written `ext` file in place.

    The pixel data is left as it is. Returns the size written, which is clamped to what
    the format's fields hold (65,535 for JPEG and GIF, 16,383 for lossy WebP).
    """
    return _PATCHERS[ext](data, width, height)


@pytest.fixture
def bands() -> np.ndarray:
    """10x10 RGB: red 50 %, green 30 %, blue 20 % of the pixels, in flat bands."""
    return flat_rows([(RED, 5), (GREEN, 3), (BLUE, 2)])


@pytest.fixture(scope="session")
def small_photo() -> Image.Image:
    """kodim23 (two macaws) reduced to 96x64 RGB: a real photo, fast to process."""
    with Image.open(DATA / "kodim23.png") as im:
        return im.convert("RGB").resize(SMALL_SIZE, Image.Resampling.LANCZOS)


@pytest.fixture(scope="session")
def photo_files(
    small_photo: Image.Image, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    """Save the small photo as PNG, JPEG, GIF, WebP and TIFF; return extension -> path."""
    folder = tmp_path_factory.mktemp("photos")
    options: dict[str, dict[str, object]] = {
        "png": {},
        "jpg": {"quality": 90},
        "gif": {},
        "webp": {"quality": 80},
        "tif": {"compression": "tiff_lzw"},
    }
    paths = {}
    for ext, kw in options.items():
        paths[ext] = folder / f"photo.{ext}"
        small_photo.save(paths[ext], **kw)
    return paths


# -- a loopback HTTP server -------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Routes that behave like good and bad image servers."""

    routes: dict[str, Callable[[_Handler], None]] = {}

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        route = self.routes.get(self.path.split("?")[0])
        if route is None:
            self.send_error(404, "Not Found")
            return
        try:
            route(self)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as the timeout tests intend

    def reply(self, body: bytes, content_type: str, length: int | None = None) -> None:
        """Send `body` with a status 200 and a Content-Length (`length` may lie)."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body) if length is None else length))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep test output quiet."""


def _silent(h: _Handler) -> None:
    time.sleep(SLOW_SECONDS)
    h.reply(b"late", "text/plain")


def _trickle(h: _Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "image/png")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    deadline = time.monotonic() + SLOW_SECONDS
    while time.monotonic() < deadline:  # one byte at a time: never silent long enough to time out
        h.wfile.write(b"\0")
        h.wfile.flush()
        time.sleep(0.02)


def _endless(h: _Handler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "image/png")
    h.end_headers()  # no Content-Length: the body ends when the connection closes
    for _ in range(64):
        h.wfile.write(b"\0" * 16384)
    h.close_connection = True


def _not_http(h: _Handler) -> None:
    h.wfile.write(b"hello, I am not a web server\r\n\r\n")
    h.close_connection = True


def _cut_short(h: _Handler) -> None:
    h.reply(b"\x89PNG\r\n", "image/png", length=5000)
    h.close_connection = True


@pytest.fixture(scope="session")
def http_server(small_photo: Image.Image) -> Iterator[str]:
    """Serve good and bad routes on 127.0.0.1 (loopback only); yield the base URL."""
    png = encode(small_photo, "PNG")
    _Handler.routes = {
        "/photo.png": lambda h: h.reply(png, "image/png"),
        "/page.html": lambda h: h.reply(b"<html><body>no image here</body></html>", "text/html"),
        "/silent": _silent,
        "/trickle": _trickle,
        "/huge": lambda h: h.reply(b"", "image/png", length=10**12),
        "/endless": _endless,
        "/not-http": _not_http,
        "/cut-short": _cut_short,
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    saved = {key: os.environ.get(key) for key in ("no_proxy", "NO_PROXY")}
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1,localhost"
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def closed_port_url() -> str:
    """Return a loopback URL on which nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/photo.png"


# -- the browser tests ---------------------------------------------------------------------

#: Debian's chromium, driven by Playwright (its own browser download is not used), and the
#: flags it needs here: no sandbox as root, no background connections on a closed network.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
#: Skips a browser test where chromium is missing; `NEEDS_CHROMIUM` adds the ``browser`` mark.
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium: apt-get install -y chromium")
NEEDS_CHROMIUM = [pytest.mark.browser, needs_chromium]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Debian's chromium, headless, one per test module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()
