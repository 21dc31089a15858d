"""The web app's URL fetch: `chromapal.fetch.fetch_url` with the public-only address policy.

There is one fetcher (`chromapal.fetch`); this module only gives the web app's defaults:
a shorter deadline and size limit, and `blocked_reason` (global unicast only, from the
explicit tables in `chromapal.addresses`) as the policy, so that a request can never
make the server reach its own machine or network.
"""

from __future__ import annotations

from typing import Final

from ..addresses import AddressPolicy, IPAddress, allow_any, blocked_reason
from ..fetch import MAX_REDIRECTS, fetch_url

__all__ = [
    "FETCH_MAX_BYTES",
    "FETCH_TIMEOUT",
    "MAX_REDIRECTS",
    "AddressPolicy",
    "IPAddress",
    "allow_any",
    "blocked_reason",
    "fetch_image_bytes",
]

#: Defaults: seconds for the whole fetch (every hop and phase), body bytes.
FETCH_TIMEOUT: Final = 10.0
FETCH_MAX_BYTES: Final = 50 * 1024 * 1024


def fetch_image_bytes(
    url: str,
    *,
    timeout: float = FETCH_TIMEOUT,
    max_bytes: int = FETCH_MAX_BYTES,
    max_redirects: int = MAX_REDIRECTS,
    policy: AddressPolicy = blocked_reason,
) -> bytes:
    """Download `url` (http or https) from public addresses only; return the body.

    Parameters
    ----------
    url : str
        The image URL.
    timeout : float
        Seconds the whole fetch may take, redirects included.
    max_bytes : int
        Largest body accepted.
    max_redirects : int
        Redirects followed at most; each target is checked like the first.
    policy : callable
        ``policy(ip) -> reason or None``; `blocked_reason` by default (tests pass their own).

    Raises
    ------
    SourceError
        As `chromapal.fetch.fetch_url`.
    """
    return fetch_url(url, timeout=timeout, max_bytes=max_bytes, policy=policy, max_redirects=max_redirects)
