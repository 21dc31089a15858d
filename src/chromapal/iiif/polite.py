"""Polite downloads: retries with backoff on 429, 503 and connection errors, ``Retry-After`` honoured.

Every download goes through `chromapal.fetch.fetch_url` (its address policy, size limit
and deadline); this module only decides whether and when to ask again. All waiting
happens inside the caller's deadline: a ``Retry-After`` that ends past it fails the
download at once, with a message saying so, instead of sleeping into a timeout.
"""

from __future__ import annotations

import email.utils
import random
import time
from collections.abc import Callable
from typing import Final

from ..errors import SourceError

#: Attempts after the first one.
RETRIES: Final = 3
#: Backoff without a Retry-After: 1 s, 2 s, 4 s ... (x 0.5-1.5 jitter), at most `MAX_WAIT`.
BACKOFF: Final = 1.0
#: Longest single wait, Retry-After included (a server asking for longer fails the image).
MAX_WAIT: Final = 60.0
#: Statuses worth asking again.
RETRY_STATUSES: Final = frozenset({429, 503})


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked by a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _retryable(exc: SourceError) -> tuple[bool, float | None]:
    """(worth retrying, seconds the server asked to wait) for a failed download."""
    status = getattr(exc, "status", None)
    if status is not None:
        return status in RETRY_STATUSES, retry_after_seconds(getattr(exc, "retry_after", None))
    cause = exc.__cause__
    connection = isinstance(cause, OSError) and not isinstance(cause, TimeoutError)
    return connection, None


def polite_fetch(
    url: str,
    *,
    deadline: float,
    max_bytes: int | None = None,
    retries: int = RETRIES,
    sleep: Callable[[float], None] = time.sleep,
) -> bytes:
    """Download `url` before `deadline` (a `time.monotonic` time), asking again when it is worth it.

    Raises
    ------
    SourceError
        The last failure, or a ``Retry-After`` past the deadline or over `MAX_WAIT`.
    """
    from .. import fetch

    attempt = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise SourceError(f"{url}: no time left to download it")
        try:
            return fetch.fetch_url(url, timeout=min(left, fetch.URL_TIMEOUT), max_bytes=max_bytes)
        except SourceError as exc:
            again, asked = _retryable(exc)
            if not again or attempt >= retries:
                raise
            wait = asked if asked is not None else BACKOFF * 2**attempt * random.uniform(0.5, 1.5)
            left = deadline - time.monotonic()
            if wait > MAX_WAIT or wait >= left:
                raise SourceError(
                    f"{exc}; Retry-After {wait:g} s is past the image's deadline ({max(left, 0):.0f} s left)"
                    if asked is not None
                    else f"{exc} (no time left to try again)"
                ) from exc
            sleep(wait)
            attempt += 1
