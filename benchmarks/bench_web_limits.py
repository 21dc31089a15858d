"""The web app under issue 11's attacks, with its default limits, and what the worker processes cost.

    .venv/bin/python benchmarks/bench_web_limits.py [--connections 2000] [--images 5]

Prints, against ``chromapal.web.create_app()`` served on 127.0.0.1 by `serve_in_thread`
(the settings ``chromapal serve`` uses):

- N idle connections: how many stay open after 1 s, how fast a page request is answered
  meanwhile, how many are left after the header timeout;
- a request declaring 5 MB that sends 20 bytes: when it is answered, and with what;
- a slow JPEG (7000x7000, 98 progressive scans, 295 KB) with ``timeout=2``: status and time;
- the cost of running the image job in a worker process instead of the server process,
  for a small PNG and for the photos of ../shared/images/large (if present).
"""

from __future__ import annotations

import argparse
import glob
import io
import json
import pickle
import socket
import statistics
import time
from pathlib import Path

import httpx
from PIL import Image

from chromapal.web import Settings, create_app, jobs
from chromapal.web.server import serve_in_thread
from chromapal.workers import WorkerPool

#: The large photos of the shared images beside the checkout (../shared/images/large).
LARGE = str(Path(__file__).resolve().parents[2] / "shared" / "images" / "large" / "*")


def _closed(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except ConnectionResetError:
        return True
    finally:
        sock.setblocking(True)


def _read_until_closed(sock: socket.socket, limit: float) -> tuple[bytes, float]:
    started = time.monotonic()
    sock.settimeout(limit)
    chunks = []
    try:
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    except (ConnectionResetError, TimeoutError):
        pass
    return b"".join(chunks), time.monotonic() - started


def slow_jpeg(side: int = 7000, repeats: int = 88) -> bytes:
    """A progressive JPEG whose last scan is repeated (98 scans: under the 100-scan limit)."""
    out = io.BytesIO()
    Image.new("RGB", (side, side), (120, 130, 140)).save(out, "JPEG", progressive=True, quality=90)
    data = out.getvalue()
    last_scan = data[data.rfind(b"\xff\xda") : -2]
    return data[:-2] + last_scan * repeats + b"\xff\xd9"


def attacks(connections: int) -> None:
    """Idle connections, a stalled body and a slow image against the default limits."""
    settings = Settings()
    with serve_in_thread(create_app(settings)) as base:
        port = int(base.rsplit(":", 1)[1])
        started = time.monotonic()
        socks = [socket.create_connection(("127.0.0.1", port)) for _ in range(connections)]
        opened = time.monotonic() - started
        time.sleep(1)
        print(f"{connections} idle connections opened in {opened:.1f} s; still open after 1 s: "
              f"{sum(not _closed(s) for s in socks)} (max_connections {settings.max_connections})")
        started = time.monotonic()
        page = httpx.get(f"{base}/", timeout=10)
        print(f"  meanwhile GET / -> {page.status_code} in {(time.monotonic() - started) * 1000:.0f} ms")
        time.sleep(settings.header_timeout)
        print(f"  still open {settings.header_timeout + 1:g} s after: {sum(not _closed(s) for s in socks)}")
        for s in socks:
            s.close()

        with socket.create_connection(("127.0.0.1", port)) as sock:
            sock.sendall(b"POST /api/palette HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Type: multipart/form-data; boundary=xyz\r\nContent-Length: 5000000\r\n\r\n"
                         b"--xyz\r\nContent-Dispo")
            reply, waited = _read_until_closed(sock, 120)
        head, _, body = reply.partition(b"\r\n\r\n")
        status = head.split(b"\r\n")[0].decode()
        print(f"5-MB body declared, 20 bytes sent: answered and closed after {waited:.1f} s: {status} {body.decode()}")

    data = slow_jpeg()
    with serve_in_thread(create_app(Settings(timeout=2.0))) as base:
        started = time.monotonic()
        r = httpx.post(f"{base}/api/palette", files={"image": ("slow.jpg", data)}, timeout=60)
        print(f"slow JPEG ({len(data) / 1000:.0f} KB) with timeout=2: {r.status_code} after "
              f"{time.monotonic() - started:.1f} s: {json.loads(r.text)['error']}")


def worker_cost(images: int) -> None:
    """Median time of the image job in this process and in a worker, and the size sent back."""
    out = io.BytesIO()
    Image.open("tests/data/kodim23.png").convert("RGB").resize((384, 256)).save(out, "PNG")
    cases = [("384x256 PNG", out.getvalue(), 15)]
    cases += [(path.rsplit("/", 1)[1][:28], open(path, "rb").read(), 3) for path in sorted(glob.glob(LARGE))[:images]]
    kw = {"max_pixels": 50_000_000, "preview_side": 800, "fetch": None, "how": jobs.Clustering(8, "oklab", 0)}
    with WorkerPool(1) as pool:
        pool.run(jobs.image_job, cases[0][1], None, "warm-up", timeout=60, **kw)
        for name, data, repeats in cases:
            here, there = [], []
            for _ in range(repeats):
                t = time.perf_counter()
                result = jobs.image_job(data, None, name, **kw)
                here.append(time.perf_counter() - t)
                t = time.perf_counter()
                pool.run(jobs.image_job, data, None, name, timeout=60, **kw)
                there.append(time.perf_counter() - t)
            sent = len(pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
            print(f"{name:28s} {len(data) / 2**20:5.2f} MB in, {sent / 2**20:4.2f} MB back: in process "
                  f"{statistics.median(here) * 1000:6.0f} ms, in a worker {statistics.median(there) * 1000:6.0f} ms")


def main() -> None:
    """Run both parts."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--images", type=int, default=5)
    args = parser.parse_args()
    attacks(args.connections)
    worker_cost(args.images)


if __name__ == "__main__":
    main()
