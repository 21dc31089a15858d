"""The web app's defences: bad and oversized uploads, decompression bombs, SSRF via URLs."""

from __future__ import annotations

import http.client
import http.server
import io
import ipaddress
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from conftest import encode, png_with_size  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from chromapal.errors import SourceError  # noqa: E402
from chromapal.web import Settings, create_app  # noqa: E402
from chromapal.web.fetch import blocked_reason, fetch_image_bytes  # noqa: E402
from chromapal.web.server import serve_in_thread  # noqa: E402

BASE = "http://127.0.0.1"


def client(**settings: object) -> TestClient:
    """Return a test client of a fresh app on the loopback host name."""
    return TestClient(create_app(Settings(**settings)), base_url=BASE)  # type: ignore[arg-type]


def allow_only_loopback_v4(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Test policy: 127.0.0.1 (our test server) is allowed, everything else as in production."""
    return None if str(ip) == "127.0.0.1" else blocked_reason(ip)


# -- uploads --------------------------------------------------------------------------------


def test_non_image_is_415_with_its_name():
    """A text file is refused with 415 and a message naming it."""
    response = client().post("/api/palette", files={"image": ("notes.txt", b"not an image", "text/plain")})

    assert response.status_code == 415
    assert response.json() == {"error": "notes.txt: not an image (or a format Pillow cannot read)"}


def test_empty_upload_is_415():
    """An empty file is refused before decoding."""
    response = client().post("/api/palette", files={"image": ("empty.png", b"", "image/png")})

    assert response.status_code == 415
    assert response.json() == {"error": "empty.png: empty file, not an image"}


def test_oversize_upload_is_413_from_the_header():
    """A body over the limit is refused from its Content-Length, before reading it."""
    response = client(max_upload_bytes=100_000).post(
        "/api/palette", files={"image": ("big.png", b"\0" * 200_000, "image/png")}
    )

    assert response.status_code == 413
    assert response.json()["error"].endswith("bytes is over the 100,000-byte limit")


def test_oversize_chunked_upload_is_stopped_while_streaming():
    """Without a Content-Length, a real server stops reading with 413 once past the limit."""
    boundary = "xyz"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\"\r\n"
            "Content-Type: image/png\r\n\r\n").encode()
    sent = []

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(1600):  # 100 MiB in all, if it were all read
            sent.append(1)
            yield b"\0" * 65536

    with serve_in_thread(create_app(Settings(max_upload_bytes=100_000))) as base:
        conn = http.client.HTTPConnection(base.removeprefix("http://"), timeout=10)
        headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
        try:
            conn.request("POST", "/api/palette", body=body(), headers=headers, encode_chunked=True)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server closed the connection while we were still sending
        response = conn.getresponse()
        payload = json.loads(response.read())
        conn.close()

    assert response.status == 413
    assert payload["error"].startswith("upload of over ")
    assert len(sent) < 400  # far less than the 1600 chunks offered


def test_declared_bomb_is_413_before_decoding():
    """A PNG header declaring 100000x100000 pixels is refused from the header."""
    bomb = png_with_size(100_000, 100_000)

    response = client().post("/api/palette", files={"image": ("bomb.png", bomb, "image/png")})

    assert response.status_code == 413
    assert response.json() == {
        "error": "bomb.png: 10,000,000,000 pixels is over the limit of 50,000,000 "
        "(a decompression-bomb guard; raise it with max_pixels or --max-pixels)"
    }


def test_real_compressed_bomb_is_413():
    """A tiny real PNG of 8000x8000 zero pixels is refused under a 10-megapixel limit."""
    bomb = encode(Image.new("L", (8000, 8000)), "PNG", optimize=True)

    response = client(max_pixels=10_000_000).post("/api/palette", files={"image": ("z.png", bomb, "image/png")})

    assert len(bomb) < 100_000
    assert response.status_code == 413
    assert "64,000,000 pixels is over the limit of 10,000,000" in response.json()["error"]


def test_upload_name_never_becomes_a_path(small_photo, tmp_path, monkeypatch):
    """A file name with ../ is reduced to its base name and nothing is written to disk."""
    monkeypatch.chdir(tmp_path)
    name = "../../evil.png"

    data = client().post("/api/palette", files={"image": (name, encode(small_photo, "PNG"), "image/png")}).json()

    assert data["source"] == "evil.png"
    assert list(tmp_path.iterdir()) == []
    assert not (tmp_path.parent / "evil.png").exists()


# -- URL fetching ----------------------------------------------------------------------------


# The address policy itself is tested table by table in tests/test_fetch.py.


class _Server(http.server.BaseHTTPRequestHandler):
    """Image server with redirect routes; counts requests."""

    hits: list[str] = []
    png = b""

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self.hits.append(self.path)
        port = self.server.server_address[1]
        routes = {
            "/photo.png": None,
            "/slow": None,
            "/to-metadata": "http://169.254.169.254/latest/meta-data/",
            "/to-private": "http://10.0.0.1/photo.png",
            "/to-ipv6-loopback": f"http://[::1]:{port}/photo.png",
            "/to-photo": "/photo.png",
            "/loop": "/loop",
            "/to-file": "file:///etc/passwd",
        }
        if self.path == "/slow":
            time.sleep(1.5)
        if self.path not in routes:
            self.send_error(404)
            return
        target = routes[self.path]
        if target is not None:
            self.send_response(302)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(self.png)))
        self.end_headers()
        try:
            self.wfile.write(self.png)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up, as the time-limit test intends

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Quiet."""


@pytest.fixture(scope="module")
def server(small_photo: Image.Image) -> Iterator[str]:
    """Serve images and redirects on 127.0.0.1; yield the base URL."""
    _Server.png = encode(small_photo, "PNG")
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(autouse=True)
def _clear_hits() -> None:
    _Server.hits.clear()


def test_urls_are_off_by_default(server):
    """Without --allow-urls a URL is refused with 403 and never fetched."""
    response = client().post("/api/palette", data={"url": f"{server}/photo.png"})

    assert response.status_code == 403
    assert response.json() == {"error": "fetching URLs is off; start the server with --allow-urls"}
    assert _Server.hits == []


@pytest.mark.parametrize(
    ("host", "address"),
    [("127.0.0.1", "127.0.0.1"), ("localhost", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("[::1]", "::1")],
)
def test_loopback_urls_are_refused_after_resolving(server, host, address):
    """Loopback by name, number or IPv6 is refused after resolution, before connecting."""
    port = server.rsplit(":", 1)[1]
    url = f"http://{host}:{port}/photo.png"

    response = client(allow_urls=True).post("/api/palette", data={"url": url})

    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{url}: refusing to fetch from a loopback address (")
    assert _Server.hits == []


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("file:///etc/passwd", "only http and https URLs are fetched (got 'file')"),
        ("ftp://example.com/a.png", "only http and https URLs are fetched (got 'ftp')"),
        ("http://10.0.0.1/a.png", "refusing to fetch from a private address (10.0.0.1)"),
        ("http://169.254.169.254/latest/", "refusing to fetch from a link-local address (169.254.169.254)"),
        ("http://user:pw@example.com/a.png", "URLs with a user name or password are not fetched"),
    ],
)
def test_bad_schemes_and_private_hosts_are_refused(url, message):
    """Other schemes, private and link-local hosts and credentials in URLs are refused."""
    with pytest.raises(SourceError) as info:
        fetch_image_bytes(url)

    assert str(info.value) == f"{url}: {message}"


@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("/to-metadata", "refusing to fetch from a link-local address (169.254.169.254)"),
        ("/to-private", "refusing to fetch from a private address (10.0.0.1)"),
        ("/to-ipv6-loopback", "refusing to fetch from a loopback address (::1)"),
        ("/to-file", "only http and https URLs are fetched (got 'file')"),
    ],
)
def test_redirects_to_private_addresses_are_refused(server, route, message):
    """Each redirect hop is checked again: redirects into private space are refused."""
    with pytest.raises(SourceError) as info:
        fetch_image_bytes(f"{server}{route}", policy=allow_only_loopback_v4)

    assert str(info.value).endswith(message)
    assert _Server.hits == [route]


def test_redirects_are_followed_to_an_allowed_image(server, small_photo):
    """A redirect to an allowed address is followed and the image returned."""
    body = fetch_image_bytes(f"{server}/to-photo", policy=allow_only_loopback_v4)

    assert Image.open(io.BytesIO(body)).size == small_photo.size
    assert _Server.hits == ["/to-photo", "/photo.png"]


def test_redirect_loops_stop(server):
    """A redirect loop stops after the redirect limit."""
    with pytest.raises(SourceError, match=r"/loop: more than 3 redirects$"):
        fetch_image_bytes(f"{server}/loop", policy=allow_only_loopback_v4, max_redirects=3)

    assert len(_Server.hits) == 4


def test_fetch_size_and_time_limits(server):
    """Bodies over the size limit and servers slower than the time limit are cut off."""
    with pytest.raises(SourceError, match="is over the 100-byte limit"):
        fetch_image_bytes(f"{server}/photo.png", policy=allow_only_loopback_v4, max_bytes=100)
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"no answer within 0\.3 s$"):
        fetch_image_bytes(f"{server}/slow", policy=allow_only_loopback_v4, timeout=0.3)

    assert time.monotonic() - started < 1.0


def test_allowed_url_gives_a_palette(server):
    """With --allow-urls and an allowed address, the URL's palette is returned."""
    c = client(allow_urls=True, url_policy=allow_only_loopback_v4)

    response = c.post("/api/palette", data={"url": f"{server}/photo.png", "k": 3})

    assert response.status_code == 200
    assert response.json()["source"] == "photo.png"
    assert len(response.json()["colors"]) == 3


def test_uploads_leave_no_files_in_the_temp_directory(small_photo, tmp_path, monkeypatch):
    """A large upload spooled to a temporary file is deleted when the response is sent."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    noise = np.random.default_rng(0).integers(0, 256, (700, 700, 3), dtype=np.uint8)
    big = encode(Image.fromarray(noise), "PNG")  # over the 1 MB the parser keeps in memory

    response = client().post("/api/palette", files={"image": ("big.png", big, "image/png")})

    assert len(big) > 1024 * 1024
    assert response.status_code == 200
    assert list(Path(tmp_path).iterdir()) == []
