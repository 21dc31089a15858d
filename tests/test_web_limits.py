"""The web server's bounds, attacked over real sockets on 127.0.0.1: slow heads, slow bodies,
idle connections, slow images, busy workers, malformed URLs.

Every attack is generated here, bounded in count and time, and stops by itself.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
from conftest import encode  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from chromapal.addresses import allow_any  # noqa: E402
from chromapal.web import Settings, create_app, jobs  # noqa: E402
from chromapal.web.server import serve_in_thread  # noqa: E402

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


@pytest.fixture(scope="module")
def slow() -> bytes:
    """The slow JPEG (made once: 0.6 s)."""
    return slow_jpeg()


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


#: Start of a multipart body whose file part is still arriving.
PART = b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'


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


def _slow_body_request(length: int) -> bytes:
    return (
        b"POST /api/palette HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: multipart/form-data; boundary=xyz\r\n"
        b"Content-Length: %d\r\n\r\n" % length
    )


def test_stalled_body_gets_408_and_is_closed():
    """Issue 11's attack: declares 5 MB, sends 20 bytes, then nothing: 408 after body_idle_timeout."""
    with server(body_idle_timeout=1.0) as (_, port), connect(port) as sock:
        sock.sendall(_slow_body_request(5_000_000) + b"--xyz\r\nContent-Dispo")
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
        sock.sendall(_slow_body_request(5_000_000) + PART)
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
        sock.sendall(_slow_body_request(1000) + PART)
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
            sock.sendall(_slow_body_request(1000) + PART)
            time.sleep(0.05)  # its head is read: it no longer counts as waiting for one
        time.sleep(0.3)
        started = time.monotonic()
        response = httpx.get(f"{base}/", timeout=10)
        answered = time.monotonic() - started

    assert response.status_code == 503
    assert answered < SLACK


# -- the per-image deadline and the workers --------------------------------------------------


def _spin(*args: object, **kwargs: object) -> None:
    """Stands for a decoder stuck in a loop (runs in a worker process)."""
    while True:
        pass


def test_spinning_decoder_is_stopped_at_the_deadline(photo_png, monkeypatch):
    """A job that never returns gets 422 "took longer than 1 s" after 1 s; the next upload works."""
    app = create_app(Settings(timeout=1.0, workers=1))
    client = TestClient(app, base_url="http://127.0.0.1")
    with monkeypatch.context() as patch:
        patch.setattr(jobs, "image_job", _spin)
        started = time.monotonic()
        stuck = client.post("/api/palette", files={"image": ("stuck.png", photo_png)})
        waited = time.monotonic() - started
    after = client.post("/api/palette", files={"image": ("photo.png", photo_png)}, data={"k": 3})

    assert stuck.status_code == 422
    assert stuck.json() == {
        "error": "stuck.png: took longer than 1 s to decode and cluster (the server's time limit per image)"
    }
    assert waited < 1.0 + SLACK
    assert after.status_code == 200 and len(after.json()["colors"]) == 3


def test_slow_real_jpeg_is_stopped_at_the_deadline(slow):
    """A 295-KB progressive JPEG of 98 scans (4 s of decoding): 422 at the 1-s deadline."""
    client = TestClient(create_app(Settings(timeout=1.0)), base_url="http://127.0.0.1")

    started = time.monotonic()
    response = client.post("/api/palette", files={"image": ("slow.jpg", slow, "image/jpeg")})
    waited = time.monotonic() - started

    assert len(slow) < 300_000
    assert response.status_code == 422
    assert response.json()["error"].startswith("slow.jpg: took longer than 1 s to decode and cluster")
    assert waited < 1.0 + SLACK


def test_four_slow_uploads_do_not_tie_up_the_app(photo_png, slow):
    """Four slow JPEGs on two workers: the page still loads at once, all five uploads are answered."""
    results: dict[str, tuple[int, float]] = {}
    with server(workers=2, timeout=1.0, worker_wait=5.0) as (base, _), httpx.Client(base_url=base,
                                                                                     timeout=20) as client:

        def post(name: str, data: bytes) -> None:
            started = time.monotonic()
            r = client.post("/api/palette", files={"image": (name, data)})
            results[name] = (r.status_code, time.monotonic() - started)

        threads = [threading.Thread(target=post, args=(f"slow{i}.jpg", slow)) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        started = time.monotonic()
        page = client.get("/")
        page_time = time.monotonic() - started
        normal = threading.Thread(target=post, args=("photo.png", photo_png))
        normal.start()
        for t in [*threads, normal]:
            t.join(30)

    assert page.status_code == 200 and page_time < 0.5
    assert [results[f"slow{i}.jpg"][0] for i in range(4)] == [422] * 4
    # two run at once: two rounds of 1 s, then the normal upload
    assert results["photo.png"][0] == 200
    assert max(t for _, t in results.values()) < 2 * 1.0 + 2 * SLACK


def test_no_free_worker_in_time_is_503_with_retry_after(photo_png, slow):
    """With the only worker busy, a request waits worker_wait seconds and gets 503 + Retry-After."""
    with server(workers=1, timeout=3.0, worker_wait=0.5) as (base, _), httpx.Client(base_url=base,
                                                                                     timeout=20) as client:
        busy = threading.Thread(target=client.post, args=("/api/palette",),
                                kwargs={"files": {"image": ("slow.jpg", slow)}})
        busy.start()
        time.sleep(0.5)
        started = time.monotonic()
        response = client.post("/api/palette", files={"image": ("photo.png", photo_png)})
        waited = time.monotonic() - started
        busy.join(20)

    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert response.json()["error"].startswith("the server is busy: no worker became free within 0.5 s")
    assert 0.4 < waited < 0.5 + SLACK


def test_client_that_hangs_up_frees_its_worker_by_the_deadline(photo_png, slow):
    """A client that sends a slow image and hangs up holds the only worker no longer than the deadline."""
    body = (b"--xyz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"slow.jpg\"\r\n\r\n"
            + slow + b"\r\n--xyz--\r\n")
    with server(workers=1, timeout=1.0, worker_wait=5.0) as (base, port):
        with connect(port) as sock:
            sock.sendall(_slow_body_request(len(body)) + body)
            time.sleep(0.2)  # the decode has started
        started = time.monotonic()
        response = httpx.post(f"{base}/api/palette", files={"image": ("photo.png", photo_png)}, timeout=20)
        waited = time.monotonic() - started

    assert response.status_code == 200
    assert waited < 1.0 + SLACK


def test_work_of_a_client_that_hung_up_while_queued_is_never_started(photo_png, slow):
    """A slow image queued behind another, whose client hangs up, does not take the worker after it."""
    body = (b"--xyz\r\nContent-Disposition: form-data; name=\"image\"; filename=\"slow.jpg\"\r\n\r\n"
            + slow + b"\r\n--xyz--\r\n")
    with server(workers=1, timeout=1.5, worker_wait=10.0) as (base, port), connect(port) as first:
        first.sendall(_slow_body_request(len(body)) + body)  # takes the only worker for 1.5 s
        time.sleep(0.2)
        with connect(port) as second:  # queued behind it, then gone
            second.sendall(_slow_body_request(len(body)) + body)
            time.sleep(0.2)
        started = time.monotonic()
        response = httpx.post(f"{base}/api/palette", files={"image": ("photo.png", photo_png)}, timeout=20)
        waited = time.monotonic() - started
        reply, _ = read_until_closed(first, 10)

    assert b" 422 " in reply.split(b"\r\n", 1)[0]  # the first one was answered at its deadline
    assert response.status_code == 200
    # after the first image's deadline (about 1.1 s from here), not after a second one's (2.6 s)
    assert waited < 2.2


def test_the_deadline_covers_a_slow_url(http_server):
    """A server trickling its image for 3 s is cut off by the 1-s image deadline (fetch limit 10 s)."""
    settings = Settings(allow_urls=True, url_policy=allow_any, timeout=1.0, fetch_timeout=10.0)
    client = TestClient(create_app(settings), base_url="http://127.0.0.1")
    url = f"{http_server}/trickle"

    started = time.monotonic()
    response = client.post("/api/palette", data={"url": url})
    waited = time.monotonic() - started

    assert response.status_code == 422
    assert response.json() == {
        "error": f"{url}: took longer than 1 s to fetch, decode and cluster (the server's time limit per image)"
    }
    assert waited < 1.0 + SLACK


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


def test_upload_preview_and_histogram_are_all_that_comes_back(photo_png):
    """The worker sends back the histogram and a preview of at most preview_side, not the image."""
    big = encode(Image.new("RGB", (3000, 1000), (200, 10, 10)), "PNG")

    decoded, raw = jobs.image_job(big, None, "big.png", max_pixels=50_000_000, preview_side=800,
                                  fetch=None,
                                  how=jobs.Clustering(3, "oklab", 0))

    assert decoded.preview.shape[:2] == (267, 800)
    assert len(decoded.counts.counts) == 1 and decoded.exact is None  # one exact colour: the histogram is exact
    assert raw is not None and [tuple(c) for c in raw.colors] == [(200, 10, 10)]


def test_exact_colours_are_kept_only_when_few():
    """The exact colours travel back and stay with a session only up to EXACT_KEEP rows."""
    rng = np.random.default_rng(0)
    few = encode(Image.fromarray(rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)), "PNG")
    many = encode(Image.fromarray(rng.integers(0, 256, (400, 400, 3), dtype=np.uint8)), "PNG")

    kept, all_few = jobs.decode(few, "few.png", max_pixels=10**6, preview_side=800)
    dropped, all_many = jobs.decode(many, "many.png", max_pixels=10**6, preview_side=800)

    assert kept.exact is all_few and 9_900 < len(all_few.counts) <= 10_000  # random: nearly all distinct
    assert all_many is not None and len(all_many.counts) > jobs.EXACT_KEEP
    assert dropped.exact is None
