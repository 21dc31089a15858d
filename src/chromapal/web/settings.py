"""The web app's limits and switches, in one place: `Settings` and its defaults.

`chromapal serve` maps its options onto `Settings`; `chromapal.web.server.server_options`
turns the connection limits into uvicorn's configuration and `chromapal.web.limits.Guard`
enforces the per-request ones, so every bound below is set here and enforced where the
work happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .fetch import FETCH_MAX_BYTES, FETCH_TIMEOUT, AddressPolicy, blocked_reason
from .sessions import MAX_SESSIONS, SESSION_TTL

#: Largest accepted upload (the file itself); the request body may be `FORM_SLACK` larger.
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
#: Room for the multipart framing and the form fields around the file.
FORM_SLACK: Final = 64 * 1024
#: Pixel limit for uploads (decompression-bomb guard), below Pillow's own.
MAX_PIXELS: Final = 50_000_000
#: Longest side of the recoloured preview.
PREVIEW_SIDE: Final = 800
#: Worker processes decoding and clustering at once: bounds CPU and memory under load.
WORKERS: Final = 4
#: Seconds one image may take to fetch, decode and cluster (its worker is killed past it).
IMAGE_TIMEOUT: Final = 30.0
#: Seconds a request waits for a free worker before it is answered 503.
WORKER_WAIT: Final = 5.0
#: Seconds a new connection has to send its request line and headers (also between requests).
HEADER_TIMEOUT: Final = 10.0
#: Seconds a client may leave between two pieces of a request body.
BODY_IDLE_TIMEOUT: Final = 10.0
#: Seconds the whole request body may take to arrive (a 50 MB upload at 1 MB/s fits).
BODY_TIMEOUT: Final = 120.0
#: Seconds the client may take to read the answer.
SEND_TIMEOUT: Final = 30.0
#: Open connections at most; a request arriving while this many are open gets 503.
MAX_CONNECTIONS: Final = 100
#: Seconds an idle keep-alive connection stays open between requests.
KEEP_ALIVE: Final = 5


@dataclass(frozen=True)
class Settings:
    """Limits and switches of one app; `chromapal serve` maps its options onto these.

    Attributes
    ----------
    max_upload_bytes, max_pixels : int
        Largest upload and largest image (pixels) accepted.
    allow_urls : bool
        Whether requests may name an http(s) URL to fetch.
    sessions, session_ttl, max_sessions
        Whether, for how long and how many decoded images are kept for re-clustering.
    preview_side : int
        Longest side of the recoloured preview.
    fetch_timeout, fetch_max_bytes, url_policy
        Time and size limits of a URL fetch and the address policy it obeys (a
        module-level function: it is sent to the worker process that fetches).
    allowed_hosts : tuple of str
        Host header values accepted (guards against DNS rebinding); empty accepts any.
    workers : int
        Worker processes that decode and cluster (at most this many images at once).
    timeout : float
        Seconds one image may take to fetch, decode and cluster; past it the worker is
        killed and replaced and the client gets a 422 "took longer than N s".
    worker_wait : float
        Seconds a request waits for a free worker; past it the client gets a 503.
    header_timeout : float
        Seconds a connection has to send a complete request head; past it, it is closed
        (with a 408 if part of a head arrived).
    body_idle_timeout, body_timeout : float
        Seconds between two pieces of a request body, and for the whole body; past
        either the client gets a 408 and the connection is closed.
    send_timeout : float
        Seconds the client may take to read the answer; past it the connection is closed.
    max_connections : int
        Open connections at most: a request arriving while this many are open gets a 503,
        and connections that have not sent a request yet are at most half of them (a new
        one closes the one that has waited longest).
    keep_alive : int
        Seconds an idle connection stays open between requests.
    """

    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_pixels: int = MAX_PIXELS
    allow_urls: bool = False
    sessions: bool = True
    session_ttl: float = SESSION_TTL
    max_sessions: int = MAX_SESSIONS
    preview_side: int = PREVIEW_SIDE
    fetch_timeout: float = FETCH_TIMEOUT
    fetch_max_bytes: int = FETCH_MAX_BYTES
    url_policy: AddressPolicy = blocked_reason
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
    workers: int = WORKERS
    timeout: float = IMAGE_TIMEOUT
    worker_wait: float = WORKER_WAIT
    header_timeout: float = HEADER_TIMEOUT
    body_idle_timeout: float = BODY_IDLE_TIMEOUT
    body_timeout: float = BODY_TIMEOUT
    send_timeout: float = SEND_TIMEOUT
    max_connections: int = MAX_CONNECTIONS
    keep_alive: int = KEEP_ALIVE
    collection_db: str | None = None  # chromapal serve --db: the collection view (web/collection.py)

    def __post_init__(self) -> None:
        for name in ("timeout", "worker_wait", "header_timeout", "body_idle_timeout", "body_timeout",
                     "send_timeout", "fetch_timeout"):
            value = getattr(self, name)
            if not value > 0 or value == float("inf"):  # NaN fails the first test
                raise ValueError(f"Settings.{name} must be a positive number of seconds (got {value!r})")
        for name in ("workers", "max_connections", "max_upload_bytes", "max_pixels"):
            if getattr(self, name) < 1:
                raise ValueError(f"Settings.{name} must be at least 1 (got {getattr(self, name)!r})")
        if self.max_connections < 4:
            raise ValueError(f"Settings.max_connections must be at least 4 (got {self.max_connections})")

    @property
    def max_body(self) -> int:
        """Largest request body accepted: the upload limit plus the form's framing."""
        return self.max_upload_bytes + FORM_SLACK
