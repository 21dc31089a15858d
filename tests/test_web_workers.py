"""The web app's per-image deadline and worker processes.

Slow and stuck images, busy workers, clients that hang up, slow URLs, and what a worker
sends back.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")
from conftest import encode  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from web_attacks import (  # noqa: E402
    SLACK,
    connect,
    read_until_closed,
    server,
    slow_body_request,
    slow_jpeg,
)

from chromapal.addresses import allow_any  # noqa: E402
from chromapal.web import Settings, create_app, jobs  # noqa: E402


@pytest.fixture(scope="module")
def slow() -> bytes:
    """The slow JPEG (made once: 0.6 s)."""
    return slow_jpeg()


@pytest.fixture(scope="module")
def photo_png(small_photo: Image.Image) -> bytes:
    """The small photo as PNG bytes."""
    return encode(small_photo, "PNG")


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
            sock.sendall(slow_body_request(len(body)) + body)
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
        first.sendall(slow_body_request(len(body)) + body)  # takes the only worker for 1.5 s
        time.sleep(0.2)
        with connect(port) as second:  # queued behind it, then gone
            second.sendall(slow_body_request(len(body)) + body)
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
