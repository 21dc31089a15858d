"""Download an image by URL within a time limit and a size limit."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from typing import Any, Final

from .errors import SourceError
from .load import _cause, _one_line, _printable

#: URL fetches: seconds the whole download may take, bytes accepted at most
#: (read when `fetch_url` is called, so they can be changed at run time).
URL_TIMEOUT: Final = 15.0
URL_MAX_BYTES: Final = 100 * 1024 * 1024
_CHUNK: Final = 64 * 1024


def fetch_url(url: str, *, timeout: float | None = None, max_bytes: int | None = None) -> bytes:
    """Download `url` (http or https only) with a total time limit and a size limit.

    Parameters
    ----------
    url : str
        An http(s) URL.
    timeout : float, optional
        Seconds the whole download may take (`URL_TIMEOUT` by default, read at call time).
        A server that trickles bytes is cut off too, not only a silent one.
    max_bytes : int, optional
        Largest body accepted (`URL_MAX_BYTES` by default, read at call time).

    Raises
    ------
    SourceError
        If the server cannot be reached, answers with an error status or not in
        HTTP, takes longer than `timeout` or sends more than `max_bytes`.
    """
    timeout = URL_TIMEOUT if timeout is None else timeout
    max_bytes = URL_MAX_BYTES if max_bytes is None else max_bytes
    name = _printable(url)
    deadline = time.monotonic() + timeout
    request = urllib.request.Request(url, headers={"User-Agent": "chromapal"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise SourceError(
                    f"{name}: {int(declared):,} bytes is over the {max_bytes:,}-byte limit"
                )
            data = _read_body(
                response, name, deadline=deadline, timeout=timeout, max_bytes=max_bytes
            )
            if declared and declared.isdigit() and len(data) < int(declared):
                raise SourceError(
                    f"{name}: the connection closed after {len(data):,} of {int(declared):,} bytes"
                )
            return data
    except SourceError:
        raise
    except urllib.error.HTTPError as exc:
        raise SourceError(
            f"{name}: the server answered {exc.code} {_one_line(exc.reason)}"
        ) from exc
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise SourceError(f"{name}: no answer within {timeout:g} s") from exc
        raise SourceError(f"{name}: cannot be reached ({_one_line(exc.reason)})") from exc
    except TimeoutError as exc:
        raise SourceError(f"{name}: no answer within {timeout:g} s") from exc
    except http.client.HTTPException as exc:  # not an OSError: bad status line, cut-off body
        raise SourceError(f"{name}: broken HTTP answer ({_cause(exc)})") from exc
    except (OSError, ValueError) as exc:
        raise SourceError(f"{name}: cannot be fetched ({_cause(exc)})") from exc


def _read_body(
    response: Any, name: str, *, deadline: float, timeout: float, max_bytes: int
) -> bytes:
    """Read `response` in chunks, stopping at the deadline or past `max_bytes`."""
    chunks: list[bytes] = []
    size = 0
    while chunk := response.read1(_CHUNK):
        chunks.append(chunk)
        size += len(chunk)
        if size > max_bytes:
            raise SourceError(f"{name}: more than the {max_bytes:,}-byte limit")
        if time.monotonic() > deadline:
            raise SourceError(f"{name}: not downloaded within {timeout:g} s")
    return b"".join(chunks)
