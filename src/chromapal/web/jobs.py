"""What the web app's worker processes run: fetch, decode and cluster one image.

These functions run in a `chromapal.workers.WorkerPool` process, under the app's
per-image deadline, so a hostile image costs at most that much time and is stopped by
killing its worker. They return only what the app keeps: the colour histogram (at
most 32,768 rows, about 1 MB pickled), a preview of at most 800 pixels a side (at most
2.5 MB), the image's exact colours when there are at most `EXACT_KEEP` of them (7 MB)
and the palette; never the decoded image (a 50-megapixel array would take 150 MB and a
quarter of a second to send back).

This module imports no web framework: workers load it, not the app.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image

from .._types import UInt8Array
from ..errors import PaletteError, SourceError
from ..finish import distinct_counts
from ..load import DRAFT_ABOVE, load_image
from ..palette import Palette
from ..pipeline import palette_from_counts
from ..sample import ColorCounts, color_counts
from .fetch import AddressPolicy, fetch_image_bytes

#: Exact colours of an image kept with it (for exact shares and error when re-clustering
#: by session token) up to this many distinct colours (56 bytes each: 7 MB at most).
EXACT_KEEP: Final = 1 << 17


@dataclass(frozen=True)
class Decoded:
    """An image reduced to what the app keeps: its name, colour histogram and preview.

    `exact` holds the image's exact colours when the histogram does not and there are at
    most `EXACT_KEEP` of them; palettes found later from the histogram then have the
    exact shares and error the command line gives, otherwise shares and error come from
    the histogram's cell means (see `chromapal.finish`).
    """

    name: str
    counts: ColorCounts
    preview: UInt8Array  # (h, w, 3|4) uint8, longest side at most the preview size
    exact: ColorCounts | None = None


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


def decode(data: bytes, name: str, *, max_pixels: int, preview_side: int) -> tuple[Decoded, ColorCounts | None]:
    """Decode an uploaded image once: its colour histogram, a small upright preview, its exact colours.

    Returns the `Decoded` image and all its exact colours (None when the histogram holds
    exact colours already); `Decoded.exact` keeps them only when they are few enough.
    """
    stream = io.BytesIO(data)
    stream.name = name  # type: ignore[attr-defined]  # names the upload in error messages
    # upright: the preview must match what the browser shows; the histogram does not change
    loaded = load_image(stream, max_pixels=max_pixels, draft_above=DRAFT_ABOVE, upright=True)
    counts = color_counts(loaded.pixels)
    exact = None if counts.exact or not len(counts.counts) else distinct_counts(loaded.pixels)
    kept = exact if exact is not None and len(exact.counts) <= EXACT_KEEP else None
    return Decoded(name, counts, preview_pixels(loaded.pixels, preview_side), kept), exact


def preview_pixels(pixels: UInt8Array, side: int) -> UInt8Array:
    """`pixels` scaled down so the longer side is at most `side` (a copy either way)."""
    h, w = pixels.shape[:2]
    if max(h, w) <= side:
        return pixels.copy()
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(image).copy()


def cluster(counts: ColorCounts, how: Clustering, source: str, exact: ColorCounts | None = None) -> Palette:
    """The raw palette of a histogram (before clean-up); shares and error exact with `exact`."""
    return palette_from_counts(
        counts, k=how.k, space=how.space, seed=how.seed, source=source, exact=exact,
        delta_e=exact is not None or counts.exact,  # as `--json` does, whenever the exact colours are known
    )


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
    decoded, exact = decode(data, name, max_pixels=max_pixels, preview_side=preview_side)
    return decoded, None if how is None else cluster(decoded.counts, how, name, exact)
