"""extract: the stages composed — load, count colours, cluster, rank."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from ._types import FloatArray, UInt8Array
from .adjust import IGNORE_TOLERANCE
from .cluster import kmeans, kmeans_plus_plus, median_cut, nearest, polish_de2000
from .colorspace import SPACE_TO_LINEAR, SPACES, canonical_space, lab_from_linear, lab_from_srgb, lab_to_srgb
from .errors import EmptyImageError
from .finish import Prefetch, counted_image, estimate_error, finish
from .load import DRAFT_ABOVE, MAX_PIXELS, Frames, Source, load_image
from .palette import Palette
from .sample import ColorCounts, coarsen

MAX_K = 256
#: Default target of ``k="auto"``: the mean ΔE2000 a palette may leave.
MAX_ERROR = 6.0
INITS = ("median-cut", "kmeans++")


def extract(
    source: Source,
    k: int | str = 8,
    *,
    space: str = "oklab",
    seed: int = 0,
    init: str = "median-cut",
    max_error: float = MAX_ERROR,
    alpha_threshold: int = 128,
    frames: Frames = "first",
    max_pixels: int = MAX_PIXELS,
    draft: bool = True,
    ignore: Sequence[Sequence[int]] = (),
    ignore_tolerance: float = IGNORE_TOLERANCE,
    timeout: float | None = None,
    delta_e: bool = False,
) -> Palette:
    """Return the `k` dominant colours of an image and the share of the image each covers.

    Parameters
    ----------
    source : path, URL, bytes, binary file, PIL image or ndarray
        The image: a file path, an http(s) URL (e.g. an IIIF Image API URL), encoded
        bytes, a binary file object, a ``PIL.Image.Image`` or an (H, W, 3|4) uint8 array.
    k : int or "auto"
        Number of colours, 1 to 256; ``"auto"`` picks the smallest k whose mean
        CIEDE2000 error is at most `max_error`.
    space : {"oklab", "cielab", "srgb"}
        Colour space the clustering runs in.
    seed : int
        Seed for every random choice; the same input and options give the same palette.
    init : {"median-cut", "kmeans++"}
        How k-means starts: a deterministic variance-based median cut (the default,
        best measured), or weighted k-means++ drawn with `seed` (for alternative palettes).
    max_error : float
        With ``k="auto"``: the largest acceptable mean ΔE2000 from a pixel to its
        palette colour (measured on the colour histogram).
    alpha_threshold : int
        Pixels with alpha below this (0-255) are left out.
    frames : {"first", "all"}
        For animations: the first frame only, or all frames pooled.
    max_pixels : int
        Refuse larger images (decompression-bomb guard).
    draft : bool
        Decode very large JPEGs at reduced scale (see :func:`chromapal.load.load_image`).
    ignore : sequence of (r, g, b)
        Colours to leave out of the clustering (e.g. a white background): pixels
        within `ignore_tolerance` (CIELAB ΔE76) of any of them are not counted.
    ignore_tolerance : float
        Radius of `ignore`, in ΔE76 units.
    delta_e : bool
        Also measure ``Palette.delta_e``: the mean CIEDE2000 from every opaque pixel to
        the palette colour it belongs to, which is exactly the error of the flattened
        image (`chromapal.recolor`). It needs every exact colour of the image, counted on
        a second thread while the palette is found (about 30-100 % more time on a
        0.4-megapixel photo, docs/benchmarks.md), so it is off by default; the CLI's
        ``--json`` turns it on. Without it ``delta_e`` is None.
    timeout : float, optional
        Seconds the whole call (downloading a URL, decoding, clustering) may take. When
        given, the work runs in a forked child process that is killed at the deadline
        (see `chromapal.workers`); None (the default) runs here, without a limit.

    Returns
    -------
    Palette
        Exactly `k` distinct colours, unless the image has fewer distinct colours,
        in which case all of them and a `note`.

    Raises
    ------
    UnreadableImageError
        If the source cannot be read as an image.
    EmptyImageError
        If every pixel is transparent.
    ValueError
        If `k` or `space` is out of range.
    ImageTimeoutError
        If `timeout` is given and the call takes longer.
    """
    _check_k(k)
    _check_options(init, max_error)
    space = canonical_space(space)
    if timeout is not None:
        from .workers import extract_within  # imported on first use (keeps `import chromapal` light)

        return extract_within(
            source, timeout, k=k, space=space, seed=seed, init=init, max_error=max_error,
            alpha_threshold=alpha_threshold, frames=frames, max_pixels=max_pixels, draft=draft,
            ignore=ignore, ignore_tolerance=ignore_tolerance, **({"delta_e": True} if delta_e else {}),
        )
    loaded = load_image(
        source, frames=frames, max_pixels=max_pixels, draft_above=DRAFT_ABOVE if draft else None
    )
    return extract_palette(
        loaded.pixels, k=k, space=space, seed=seed, init=init, max_error=max_error,
        alpha_threshold=alpha_threshold, source=loaded.name, ignore=ignore, ignore_tolerance=ignore_tolerance,
        delta_e=delta_e,
    )


def _check_k(k: int | str) -> None:
    if k == "auto":
        return
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool):
        raise TypeError(f"k must be an integer or 'auto' (got {k!r})")
    if not 1 <= k <= MAX_K:
        raise ValueError(f"k must be between 1 and {MAX_K} (got {k})")


def _check_options(init: str, max_error: float) -> None:
    if init not in INITS:
        raise ValueError(f"init must be one of {', '.join(INITS)} (got {init!r})")
    if not isinstance(max_error, (int, float, np.number)) or isinstance(max_error, bool):
        raise TypeError(f"max_error must be a number (got {max_error!r})")
    if not max_error > 0:
        raise ValueError(f"max_error must be positive (got {max_error})")


def extract_palette(
    image: UInt8Array,
    *,
    k: int | str = 8,
    space: str = "oklab",
    seed: int = 0,
    init: str = "median-cut",
    max_error: float = MAX_ERROR,
    alpha_threshold: int = 128,
    source: str | None = None,
    ignore: Sequence[Sequence[int]] = (),
    ignore_tolerance: float = IGNORE_TOLERANCE,
    delta_e: bool = False,
) -> Palette:
    """Palette of a decoded image array; see `extract` for the parameters.

    `image` is (H, W, 3|4) RGB(A) or (H, W) grey: uint8, or uint16 or float scaled as
    `chromapal.arrays.as_image_array` does.
    """
    _check_k(k)
    _check_options(init, max_error)
    image, counts, alpha_threshold, exact = counted_image(
        image, alpha_threshold=alpha_threshold, ignore=ignore, ignore_tolerance=ignore_tolerance,
        exact_needed=delta_e or k == "auto",
    )
    return palette_from_counts(
        counts, k=k, space=canonical_space(space), seed=seed, init=init, max_error=max_error, source=source,
        alpha_threshold=alpha_threshold, exact=exact, pixels=image, delta_e=delta_e,
    )


def palette_from_counts(
    counts: ColorCounts,
    *,
    k: int | str = 8,
    space: str = "oklab",
    seed: int = 0,
    init: str = "median-cut",
    max_error: float = MAX_ERROR,
    source: str | None = None,
    alpha_threshold: int = 128,
    exact: ColorCounts | Prefetch | None = None,
    pixels: UInt8Array | None = None,
    delta_e: bool = False,
) -> Palette:
    """The palette of an already counted histogram (`chromapal.sample.color_counts`).

    What `extract_palette` returns for the image the counts came from; lets a caller
    count an image once and try several k or spaces (the web app's slider does).
    `alpha_threshold` is the threshold the counts were made with. The shares are the
    pixels each colour owns under the one assignment rule (`chromapal.assign`), exact
    given `pixels` (the image the counts came from; without it a pixel of a palette
    colour whose cell goes to another colour counts for that other colour). With
    `delta_e` the palette's ``delta_e`` is set: it needs the image's exact colours,
    `exact` (`chromapal.finish.distinct_counts` or a `Prefetch`), unless the counts hold
    exact colours already.
    """
    if len(counts.counts) == 0:
        raise EmptyImageError(
            f"{source or 'image'}: every pixel is transparent (alpha below {alpha_threshold}); "
            "nothing to take colours from"
        )
    if k == "auto":
        return auto_palette(
            counts, max_error=max_error, space=space, seed=seed, init=init, source=source,
            exact=exact, pixels=pixels, alpha_threshold=alpha_threshold, delta_e=delta_e,
        )
    n = int(k)
    if counts.exact and len(counts.counts) <= n:
        return _all_colors(counts, k=n, space=space, source=source, delta_e=delta_e)
    if delta_e and not counts.exact and exact is None:
        raise ValueError("delta_e=True needs the image's exact colours: pass exact= (see distinct_counts)")
    rgb, _ = cluster_colors(counts, n, space=space, seed=seed, init=init)
    rgb, owned, error = finish(rgb, counts, exact=exact, pixels=pixels, alpha_threshold=alpha_threshold)
    return rank(rgb, owned.astype(np.float64), k=n, space=space, source=source, delta_e=error if delta_e else None)


def auto_palette(
    counts: ColorCounts, *, max_error: float, space: str, seed: int, init: str, source: str | None,
    exact: ColorCounts | Prefetch | None = None,
    pixels: UInt8Array | None = None,
    alpha_threshold: int = 128,
    delta_e: bool = False,
) -> Palette:
    """The palette of the smallest k whose mean ΔE2000 is at most `max_error`.

    Like libimagequant's quality setting: k doubles until the error is small
    enough, then a bisection finds the smallest such k (the error falls as k
    grows). The error is the palette's ``delta_e``: the mean ΔE2000 of the image
    flattened by the one assignment rule (exact with `exact`, see `palette_from_counts`).
    """
    tried: dict[int, tuple[UInt8Array, npt.NDArray[np.int64], float]] = {}

    def attempt(k: int) -> float:
        if k not in tried:
            if counts.exact and len(counts.counts) <= k:
                tried[k] = (counts.colors.astype(np.uint8), counts.counts, 0.0)
            else:
                rgb, _ = cluster_colors(counts, k, space=space, seed=seed, init=init)
                rgb, owned, error = finish(rgb, counts, exact=exact, pixels=pixels, alpha_threshold=alpha_threshold)
                # without the exact colours: the error of the cell means (a few per cent low)
                tried[k] = (rgb, owned, error if error is not None else estimate_error(rgb, counts))
        return tried[k][2]

    hi = 1
    while attempt(hi) > max_error and hi < MAX_K:
        hi = min(2 * hi, MAX_K)
    lo = hi // 2  # every k <= lo is known (or assumed) to be too coarse
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if attempt(mid) > max_error else (lo, mid)
    rgb, owned, error = tried[hi]
    note = None if error <= max_error else f"even {hi} colours leave a mean ΔE2000 of {error:.2f} (> {max_error:g})"
    return rank(rgb, owned.astype(np.float64), k=hi, space=space, source=source, note=note,
                meta={"max_error": max_error}, delta_e=error if delta_e else None)


#: Weight of lightness in each clustering space. Halving Oklab's L (as Okolors
#: does by default) lowers the mean ΔE2000 of palettes measurably (docs/benchmarks.md).
LIGHTNESS_WEIGHT: Final = {"oklab": 0.5, "cielab": 1.0, "srgb": 1.0}
#: Histogram bits per channel for the ΔE2000 polish (4: at most 4096 cells).
POLISH_BITS: Final = 4
#: Effort of the polish on the coarse, then the full histogram (see `polish_de2000`);
#: chosen by measuring palette error against time (docs/benchmarks.md).
POLISH: Final = {"iters": 6, "swaps": 4, "tries": 4, "swap_iters": 3, "splits": 2, "split_tries": 2}
FINE_POLISH: Final = {"iters": 3, "swaps": 1, "tries": 1, "swap_iters": 2}
#: Lloyd steps on the full histogram at most: the polish follows, and colourful photos
#: otherwise take up to 60 (median 18 on cq100) for no better palette (docs/benchmarks.md).
LLOYD_STEPS: Final = 12


def cluster_colors(
    counts: ColorCounts, k: int, *, space: str, seed: int = 0, init: str = "median-cut", polish: bool = True
) -> tuple[UInt8Array, FloatArray]:
    """Cluster weighted colours into exactly `k` distinct uint8 sRGB colours and their weights.

    k-means runs in `space` (lightness weighted by `LIGHTNESS_WEIGHT`); the
    centres are then polished toward the lowest mean CIEDE2000 (`polish_de2000`).
    `counts` must hold more than `k` distinct colours.
    """
    weights = counts.counts.astype(np.float64)
    lab = lab_from_srgb(counts.colors)
    # the coarser histogram: where the median cut starts and most of the polish runs
    coarse = coarsen(counts, POLISH_BITS)
    centers_lab = _kmeans_lab(counts, weights, k, space, init, seed, start_from=coarse)
    if polish:  # mostly on the coarse histogram: the ΔE2000 steps cost far more than Lloyd's
        coarse_lab, coarse_w = lab_from_srgb(coarse.colors), coarse.counts.astype(np.float64)
        centers_lab = polish_de2000(coarse_lab, coarse_w, centers_lab, **POLISH)
        if coarse is not counts:  # a last, short polish on the full histogram
            centers_lab = polish_de2000(lab, weights, centers_lab, **FINE_POLISH)
    return _distinct_and_used(lab_to_srgb(centers_lab), lab, weights, counts.colors)


def _distinct_and_used(
    rgb: UInt8Array, lab: FloatArray, weights: FloatArray, colors: FloatArray
) -> tuple[UInt8Array, FloatArray]:
    """Make the rounded colours distinct and each nearest to some pixels; return them with their weights.

    Colours that rounded onto another, or that no pixel is nearest to, are replaced
    by the input colours farthest from the palette, until none is left (each new
    colour owns at least itself, so this ends).
    """
    k = len(rgb)
    for _ in range(k + 1):
        labels, _ = nearest(lab, lab_from_srgb(rgb))
        totals = np.bincount(labels, weights, minlength=k)
        if len({tuple(c) for c in rgb}) == k and (totals > 0).all():
            break
        rgb = _make_distinct(rgb[totals > 0], colors, k)
    return rgb, totals.astype(np.float64)


def _kmeans_lab(
    counts: ColorCounts, weights: FloatArray, k: int, space: str, init: str, seed: int,
    start_from: ColorCounts | None = None,
) -> FloatArray:
    """Weighted k-means of `counts` in `space`; the centres are returned in CIELAB.

    The median cut runs on `start_from` (a coarser histogram of the same pixels:
    as good a start, measured, at a fraction of the sorting) when it has at least
    `k` rows.
    """
    to_space, _ = SPACES[space]
    scale = np.array([LIGHTNESS_WEIGHT[space], 1.0, 1.0])
    points = to_space(counts.colors) * scale
    start = None
    if init == "kmeans++":
        start = kmeans_plus_plus(points, weights, k, np.random.default_rng(seed))
    elif start_from is not None and start_from is not counts and len(start_from.counts) >= k:
        start = median_cut(to_space(start_from.colors) * scale, start_from.counts.astype(np.float64), k)
        start = start if len(start) == k else None
    clusters = kmeans(points, k, weights=weights, init=start, max_iter=LLOYD_STEPS)
    return lab_from_linear(np.clip(SPACE_TO_LINEAR[space](clusters.centers / scale), 0.0, 1.0))


def _make_distinct(rgb: UInt8Array, colors: FloatArray, k: int) -> UInt8Array:
    """Fill up to `k` distinct colours with the input colours farthest from the palette."""
    out: list[tuple[int, int, int]] = []
    for c in map(tuple, rgb):
        if c not in out:
            out.append(c)
    candidates = np.unique(np.clip(np.rint(colors), 0, 255).astype(np.uint8), axis=0)
    while len(out) < k:
        current = np.array(out, dtype=np.float64)
        _, d2 = nearest(candidates.astype(np.float64), current)
        out.append(tuple(candidates[int(np.argmax(d2))]))
    return np.array(out, dtype=np.uint8)


def _all_colors(counts: ColorCounts, *, k: int, space: str, source: str | None, delta_e: bool = False) -> Palette:
    rgb = counts.colors.astype(np.uint8)
    n = len(rgb)
    note = None if n == k else f"the image has only {n} distinct colour{'s' if n != 1 else ''}, fewer than k={k}"
    return rank(
        rgb, counts.counts.astype(np.float64), k=k, space=space, source=source, note=note,
        delta_e=0.0 if delta_e else None,
    )


def rank(
    rgb: UInt8Array,
    weights: FloatArray,
    *,
    k: int,
    space: str,
    source: str | None,
    note: str | None = None,
    meta: dict[str, Any] | None = None,
    delta_e: float | None = None,
) -> Palette:
    """Build the `Palette`: most dominant first, ties broken by colour for determinism.

    `weights` are the pixels each colour owns; colours owning none are left out.
    """
    keep = weights > 0
    rgb, weights = rgb[keep], weights[keep]
    packed = rgb.astype(np.int64) @ np.array([1 << 16, 1 << 8, 1])
    order = np.lexsort((packed, -weights))
    return Palette(
        rgb[order], weights[order] / weights.sum(), source=source, k=k, space=space, note=note, meta=meta or {},
        delta_e=None if delta_e is None else float(delta_e),
    )
