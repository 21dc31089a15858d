"""What the web app's worker processes run: fetch, decode and cluster one image.

These functions run in a `chromapal.workers.WorkerPool` process, under the app's
per-image deadline, so a hostile image costs at most that much time and is stopped by
killing its worker. They return only what the app keeps: the colour histogram (at
most 32,768 rows, about 1 MB pickled), a preview of at most 800 pixels a side (at most
2.5 MB) and the palette; never the decoded image (a 50-megapixel array would take
150 MB and a quarter of a second to send back).

This module imports no web framework: workers load it, not the app.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .._types import UInt8Array
from ..errors import PaletteError, SourceError
from ..load import DRAFT_ABOVE, load_image
from ..palette import Palette
from ..pipeline import palette_from_counts
from ..sample import ColorCounts, color_counts
from .fetch import AddressPolicy, fetch_image_bytes


@dataclass(frozen=True)
class Decoded:
    """An image reduced to what the app keeps: its name, colour histogram and preview."""

    name: str
    counts: ColorCounts
    preview: UInt8Array  # (h, w, 3|4) uint8, longest side at most the preview size


@dataclass(frozen=True)
class Clustering:
    """The options that change the raw palette (clean-up options do not)."""

    k: int
    space: str
    seed: int


@dataclass(frozen=True)
class Fetch:
    """How to fetch a URL: time and size limits and the address policy."""

    timeout: float
    max_bytes: int
    policy: AddressPolicy


def decode(data: bytes, name: str, *, max_pixels: int, preview_side: int) -> Decoded:
    """Decode an uploaded image once: its colour histogram and a small upright preview."""
    stream = io.BytesIO(data)
    stream.name = name  # type: ignore[attr-defined]  # names the upload in error messages
    # upright: the preview must match what the browser shows; the histogram does not change
    loaded = load_image(stream, max_pixels=max_pixels, draft_above=DRAFT_ABOVE, upright=True)
    counts = color_counts(loaded.pixels)
    return Decoded(name=name, counts=counts, preview=preview_pixels(loaded.pixels, preview_side))


def preview_pixels(pixels: UInt8Array, side: int) -> UInt8Array:
    """`pixels` scaled down so the longer side is at most `side` (a copy either way)."""
    h, w = pixels.shape[:2]
    if max(h, w) <= side:
        return pixels.copy()
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(image).copy()


def cluster(counts: ColorCounts, how: Clustering, source: str) -> Palette:
    """The raw palette of a histogram (before clean-up)."""
    return palette_from_counts(counts, k=how.k, space=how.space, seed=how.seed, source=source)


def image_job(
    data: bytes | None,
    url: str | None,
    name: str,
    *,
    max_pixels: int,
    preview_side: int,
    fetch: Fetch | None,
    how: Clustering | None,
) -> tuple[Decoded, Palette | None]:
    """One worker call for a new image: fetch `url` with `fetch` (or take `data`), decode, cluster with `how`.

    Returns the decoded image and its raw palette (None when `how` is None).
    """
    if data is None:
        assert url is not None and fetch is not None
        try:
            data = fetch_image_bytes(url, timeout=fetch.timeout, max_bytes=fetch.max_bytes, policy=fetch.policy)
        except PaletteError:
            raise
        except ValueError as exc:  # a malformed URL the fetcher did not word itself: still the user's
            raise SourceError(f"{url}: malformed URL ({exc})") from None
    decoded = decode(data, name, max_pixels=max_pixels, preview_side=preview_side)
    return decoded, None if how is None else cluster(decoded.counts, how, name)
