"""A bounded load test of the real server on loopback: 200 requests, 8 at a time."""

from __future__ import annotations

import gc
import io
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from PIL import Image

pytest.importorskip("fastapi")
httpx = pytest.importorskip("httpx")

from chromapal.web import create_app  # noqa: E402
from chromapal.web.server import serve_in_thread  # noqa: E402

DATA = Path(__file__).parent / "data"
REQUESTS = 200
CONCURRENCY = 8
#: Resident memory (the server's and its workers') may grow this much between the warm-up and the end.
RSS_GROWTH_LIMIT = 60 * 1024 * 1024


def rss_bytes(pid: int | str = "self") -> int:
    """Return the resident set size of a process (Linux /proc), in bytes; 0 if it has gone."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    for line in text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0  # a zombie


def descendants(pid: int) -> list[int]:
    """Processes below `pid` (children, grandchildren...): the app's worker processes among them."""
    parents: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def total_rss() -> tuple[int, int]:
    """(RSS of this process, RSS of its descendants: the worker processes and their fork server)."""
    return rss_bytes(), sum(rss_bytes(p) for p in descendants(os.getpid()))


def p95(values: list[float]) -> float:
    """95th percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads memory use from /proc")
def test_200_requests_8_at_a_time_without_errors(capsys):
    """200 uploads and token requests, 8 concurrent: all 200 OK, p95 printed, memory stable (workers too)."""
    buffer = io.BytesIO()
    Image.open(DATA / "kodim23.png").convert("RGB").resize((384, 256)).save(buffer, "PNG")
    png = buffer.getvalue()

    with serve_in_thread(create_app()) as base, httpx.Client(base_url=base, timeout=30) as client:
        token = client.post("/api/palette", files={"image": ("a.png", png)}, data={"keep": "true"}).headers[
            "X-Chromapal-Token"
        ]

        def one(i: int) -> tuple[int, float]:
            started = time.perf_counter()
            if i % 4 == 0:  # a quarter re-cluster by token (the slider), the rest upload
                r = client.post("/api/palette", data={"token": token, "k": 1 + i % 16})
            elif i % 4 == 1:
                r = client.post("/api/recolor", files={"image": ("a.png", png)}, data={"k": 1 + i % 16})
            else:
                r = client.post("/api/palette", files={"image": ("a.png", png)}, data={"k": 1 + i % 16})
            return r.status_code, time.perf_counter() - started

        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(one, range(40)))  # warm-up: caches, thread pools, allocator
            gc.collect()
            before = total_rss()
            started = time.perf_counter()
            results = list(pool.map(one, range(REQUESTS)))
            elapsed = time.perf_counter() - started
            gc.collect()
            after = total_rss()
    growth = sum(after) - sum(before)

    statuses = [s for s, _ in results]
    latencies = [t for _, t in results]
    with capsys.disabled():
        print(f"\nload: {REQUESTS} requests, {CONCURRENCY} at a time, {elapsed:.1f} s: "
              f"p50 {statistics.median(latencies) * 1000:.0f} ms, p95 {p95(latencies) * 1000:.0f} ms, "
              f"max {max(latencies) * 1000:.0f} ms; RSS growth {growth / 2**20:+.1f} MiB "
              f"(server {(after[0] - before[0]) / 2**20:+.1f}, workers {(after[1] - before[1]) / 2**20:+.1f}; "
              f"workers' RSS {after[1] / 2**20:.0f} MiB)")
    assert statuses == [200] * REQUESTS
    assert growth < RSS_GROWTH_LIMIT
