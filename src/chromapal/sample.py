"""From pixels to weighted colours: drop transparent pixels, count colours in a fixed histogram.

Every pixel of the image is counted; k-means then runs on the occupied histogram
cells (each holding the exact mean colour of its pixels and their count) instead
of on the pixels: the classic speed-up that keeps the whole image in the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from ._types import FloatArray, UInt8Array

try:  # compiled twin of the counting loop; None when the extension was not built
    from . import _kernels as KERNELS
except ImportError:  # pragma: no cover - depends on the build
    KERNELS = None  # type: ignore[assignment]

#: Bits per channel of the histogram: 2**15 cells of 8x8x8 sRGB codes (as good as 6 bits, see docs/benchmarks.md).
BITS: Final = 5
#: Below this many occupied cells the exact distinct colours are counted too (cheap then).
EXACT_CELLS: Final = 256


@dataclass(frozen=True, eq=False)
class ColorCounts:
    """Distinct colours (or histogram-cell mean colours) with their pixel counts."""

    colors: FloatArray  # (n, 3) sRGB in [0, 255]; mean colour of the pixels counted in each row
    counts: npt.NDArray[np.int64]  # (n,) pixels per row, all > 0
    exact: bool  # True when every row is one exact uint8 colour
    lab: FloatArray | None = None  # (n, 3) CIELAB of the rows when already known

    @property
    def total(self) -> int:
        """Number of pixels counted."""
        return int(self.counts.sum())


def opaque_pixels(image: UInt8Array, *, alpha_threshold: int = 128) -> UInt8Array:
    """Return the (N, 3) colours of the pixels whose alpha is at least `alpha_threshold`.

    `image` is (H, W, 3) or (H, W, 4) uint8; a 3-channel image is fully opaque and
    is returned as a reshaped view, without copying.
    """
    flat = image.reshape(-1, image.shape[-1])
    if flat.shape[1] == 3:
        return flat
    keep = flat[:, 3] >= alpha_threshold
    if keep.all():
        return flat[:, :3]
    return flat[keep, :3]


def color_counts(
    image: UInt8Array, *, alpha_threshold: int = 128, bits: int = BITS, exact_cells: int = EXACT_CELLS
) -> ColorCounts:
    """Count the colours of an image's opaque pixels in a histogram of ``2**(3*bits)`` cells.

    `image` is (H, W, 3|4) or (N, 3|4) uint8; pixels with alpha below
    `alpha_threshold` are left out. Each occupied cell yields its pixels' mean
    colour and count. When at most `exact_cells` cells are occupied (flat-colour
    art, few colours) the exact distinct colours are counted instead, which is
    then cheap.
    """
    channels = image.shape[-1]
    if KERNELS is not None and channels in (3, 4) and image.size:
        return _color_counts_compiled(np.ascontiguousarray(image), channels, alpha_threshold, bits, exact_cells)
    pixels = opaque_pixels(image.reshape(-1, channels), alpha_threshold=alpha_threshold)
    if len(pixels) == 0:
        return ColorCounts(np.zeros((0, 3)), np.zeros(0, np.int64), True)
    shift = 8 - bits
    r, g, b = pixels[:, 0], pixels[:, 1], pixels[:, 2]
    cell = (r >> shift).astype(np.intp)
    cell <<= 2 * bits
    cell |= (g >> shift).astype(np.intp) << bits
    cell |= b >> shift
    counts = np.bincount(cell, minlength=1 << (3 * bits))
    occupied = np.flatnonzero(counts)
    if len(occupied) <= exact_cells or bits == 8:
        return _exact_counts(r, g, b, cell, occupied, bits)
    n = counts[occupied]
    means = np.empty((len(occupied), 3))
    for i, channel in enumerate((r, g, b)):
        means[:, i] = np.bincount(cell, weights=channel, minlength=len(counts))[occupied] / n
    return ColorCounts(means, n.astype(np.int64), False)


def _color_counts_compiled(
    image: UInt8Array, channels: int, alpha_threshold: int, bits: int, exact_cells: int
) -> ColorCounts:
    """`color_counts` through the compiled kernels: one pass, no per-pixel temporaries."""
    ncells = 1 << (3 * bits)
    counts = np.zeros(ncells, np.int64)
    sums = np.zeros((ncells, 3), np.int64)
    KERNELS.histogram(image, channels, alpha_threshold, bits, counts, sums)
    occupied = np.flatnonzero(counts)
    if len(occupied) == 0:
        return ColorCounts(np.zeros((0, 3)), np.zeros(0, np.int64), True)
    if len(occupied) > exact_cells and bits < 8:
        n = counts[occupied]
        return ColorCounts(sums[occupied] / n[:, None], n, False)
    shift = 8 - bits
    rank = np.zeros(ncells, np.int64)
    rank[occupied] = np.arange(len(occupied))
    exact = np.zeros(len(occupied) << (3 * shift), np.int64)
    KERNELS.exact_histogram(image, channels, alpha_threshold, bits, rank, exact)
    present = np.flatnonzero(exact)
    return ColorCounts(_unpack(occupied[present >> (3 * shift)], present, bits), exact[present], True)


def _unpack(cells: npt.NDArray[np.intp], keys: npt.NDArray[np.intp], bits: int) -> FloatArray:
    """Rebuild exact colours from their histogram cell and the low bits stored in `keys`."""
    shift = 8 - bits
    low_mask, top = (1 << shift) - 1, (1 << bits) - 1
    lo = keys & ((1 << (3 * shift)) - 1)
    return np.stack(
        [
            ((cells >> (2 * bits)) & top) << shift | (lo >> (2 * shift)) & low_mask,
            ((cells >> bits) & top) << shift | (lo >> shift) & low_mask,
            (cells & top) << shift | lo & low_mask,
        ],
        axis=1,
    ).astype(np.float64)


def _exact_counts(
    r: UInt8Array, g: UInt8Array, b: UInt8Array, cell: npt.NDArray[np.intp],
    occupied: npt.NDArray[np.intp], bits: int,
) -> ColorCounts:
    """Exact distinct colours, counted in ``len(occupied) * 2**(3*(8-bits))`` sub-cells."""
    shift = 8 - bits
    low_mask = (1 << shift) - 1
    rank = np.zeros(1 << (3 * bits), np.intp)
    rank[occupied] = np.arange(len(occupied))
    key = rank[cell] << (3 * shift)
    key |= (r & low_mask).astype(np.intp) << (2 * shift)
    key |= (g & low_mask).astype(np.intp) << shift
    key |= b & low_mask
    counts = np.bincount(key, minlength=len(occupied) << (3 * shift))
    present = np.flatnonzero(counts)
    cells = occupied[present >> (3 * shift)]
    return ColorCounts(_unpack(cells, present, bits), counts[present].astype(np.int64), True)


def coarsen(counts: ColorCounts, bits: int) -> ColorCounts:
    """Merge rows into the cells of a coarser ``2**(3*bits)`` histogram (count-weighted means).

    Exact colours are returned as they are: they are few by construction.
    """
    if counts.exact or len(counts.counts) == 0:
        return counts
    shift = 8 - bits
    c = np.floor(counts.colors).astype(np.intp) >> shift
    cell = (c[:, 0] << (2 * bits)) | (c[:, 1] << bits) | c[:, 2]
    # sums over the whole coarse table, then its occupied cells in order: the same additions,
    # in the same order, as grouping by np.unique (which sorted, costing 1-2 ms a photo)
    size = 1 << (3 * bits)
    n = np.bincount(cell, counts.counts, minlength=size)
    occupied = np.flatnonzero(n)
    n = n[occupied]
    sums = np.stack(
        [np.bincount(cell, counts.counts * counts.colors[:, j], minlength=size)[occupied] for j in range(3)], axis=1
    )
    return ColorCounts(sums / n[:, None], n.astype(np.int64), False)
