"""How long a server trickling 2 bytes/s holds the CLI and the web app, phase by phase.

    .venv/bin/python benchmarks/bench_fetch_deadline.py [--phases status headers chunk-size body]
                                                        [--rate 2] [--no-web] [--no-cli]

A raw server on 127.0.0.1 answers every request by trickling `--rate` bytes per second
in one phase of the answer (the status line, the headers, a chunk-size line or the body)
for as long as the client stays. `chromapal URL` (documented deadline: 15 s) and the web
app's ``POST /api/palette`` with ``url=`` (10 s; the address policy widened to let the
loopback server be reached) are timed against each phase. Also times a plain 50 MB
download over loopback (the cost of giving every socket call the time left). Prints a table.
"""

from __future__ import annotations

import argparse
import itertools
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n"
PHASES = {
    "status": (b"", itertools.chain(b"HTTP/1.1 200 ", itertools.cycle(b"O"))),
    "headers": (HEAD, itertools.chain(b"X-Slow: ", itertools.cycle(b"a"))),
    "chunk-size": (HEAD + b"Transfer-Encoding: chunked\r\n\r\n", itertools.cycle(b"0")),
    "body": (HEAD + b"Content-Length: 1000000\r\n\r\n", itertools.cycle(b"\0")),
}
BIG = 50 * 1024 * 1024


def serve(phase: str, rate: float, stop: threading.Event) -> int:
    """Start a trickling server for `phase` (or "big": a 50 MB body at full speed); return its port."""
    listener = socket.create_server(("127.0.0.1", 0))

    def answer(conn: socket.socket) -> None:
        with conn:
            try:
                head = b""
                while b"\r\n\r\n" not in head:
                    head += conn.recv(4096) or b"\r\n\r\n"
                if phase == "big":
                    conn.sendall(HEAD + f"Content-Length: {BIG}\r\n\r\n".encode() + b"\0" * BIG)
                    return
                prefix, trickle = PHASES[phase]
                conn.sendall(prefix)
                for byte in trickle:
                    if stop.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(1 / rate)
            except OSError:
                pass  # the client gave up

    def accept() -> None:
        while not stop.is_set():
            conn, _ = listener.accept()
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    return int(listener.getsockname()[1])


def time_cli(url: str) -> tuple[float, str]:
    """Seconds `chromapal URL` took and the last line it printed to stderr."""
    cli = Path(sys.executable).with_name("chromapal")
    env = {**os.environ, "NO_COLOR": "1"}
    start = time.monotonic()
    done = subprocess.run([str(cli), url, "-k", "2"], capture_output=True, text=True, env=env, timeout=300)
    return time.monotonic() - start, (done.stderr.strip().splitlines() or [""])[-1]


def time_web(url: str) -> tuple[float, str]:
    """Seconds the web app took to answer ``url=`` and its status and error."""
    from fastapi.testclient import TestClient

    from chromapal.addresses import allow_any
    from chromapal.web import Settings, create_app

    client = TestClient(create_app(Settings(allow_urls=True, url_policy=allow_any)), base_url="http://127.0.0.1")
    start = time.monotonic()
    response = client.post("/api/palette", data={"url": url})
    return time.monotonic() - start, f"{response.status_code} {response.json().get('error', '')}"


def rows(args: argparse.Namespace, stop: threading.Event) -> Iterator[tuple[str, str, float, str]]:
    """(phase, client, seconds, outcome) for each phase and client asked for."""
    for phase in args.phases:
        url = f"http://127.0.0.1:{serve(phase, args.rate, stop)}/slow.png"
        if not args.no_cli:
            yield (phase, "CLI", *time_cli(url))
        if not args.no_web:
            yield (phase, "web", *time_web(url))


def main() -> None:
    """Time each client against each trickling phase; print a table."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--phases", nargs="+", choices=list(PHASES), default=list(PHASES))
    parser.add_argument("--rate", type=float, default=2.0, help="bytes per second trickled")
    parser.add_argument("--no-cli", action="store_true")
    parser.add_argument("--no-web", action="store_true")
    args = parser.parse_args()
    stop = threading.Event()
    print(f"{'phase':<11} {'client':<6} {'seconds':>8}  outcome")
    for phase, client, seconds, outcome in rows(args, stop):
        print(f"{phase:<11} {client:<6} {seconds:8.2f}  {outcome}", flush=True)
    from chromapal.fetch import fetch_url

    url = f"http://127.0.0.1:{serve('big', args.rate, stop)}/big.png"
    start = time.monotonic()
    size = len(fetch_url(url, max_bytes=BIG))
    took = time.monotonic() - start
    print(f"plain download of {size / 2**20:.0f} MB over loopback: {took:.3f} s ({size / 2**20 / took:,.0f} MB/s)")
    stop.set()


if __name__ == "__main__":
    main()
