"""From cluster centres to the palette's promise: exact colours, shares and error by the one rule.

After clustering, three steps make the palette tell the truth about its image:

1. every colour owns some pixels under the assignment rule (`chromapal.assign`); a
   colour that owns none is replaced by the colour of the cell contributing most error;
2. a colour within `SNAP_DE` (CIEDE2000) of one exact image colour that holds more
   than `SNAP_SHARE` of its cluster becomes that exact colour, so flat art gets its own
   colours back (``#aa0000``, not ``#aa0100``; a white page is ``#ffffff``);
3. the shares are the pixel counts per colour under the rule divided by the opaque
   pixel count, and ``delta_e`` the mean CIEDE2000 of every opaque pixel to its colour:
   exactly what the flattened image (`chromapal.recolor`) shows.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

from ._types import FloatArray, UInt8Array
from .assign import (
    CELL_BITS,
    CELLS,
    KERNELS,
    Rule,
    cell_index,
    flat_error,
    labels_of_colors,
    rule_for_cells,
)
from .colorspace import ciede2000, lab_from_srgb
from .sample import ColorCounts

#: A colour this close (ΔE2000) to an exact image colour ...
SNAP_DE: Final = 1.0
#: ... that holds more than this share of the colour's pixels becomes that exact colour.
SNAP_SHARE: Final = 0.5


def de2000_pairs(lab1: FloatArray, lab2: FloatArray) -> FloatArray:
    """CIEDE2000 of each row pair of two (n, 3) CIELAB arrays (the compiled kernel when built)."""
    a = np.ascontiguousarray(lab1, dtype=np.float64)
    b = np.ascontiguousarray(lab2, dtype=np.float64)
    if KERNELS is not None and len(a):
        out = np.empty(len(a))
        KERNELS.ciede2000_pairs(a, b, out)
        return out
    return ciede2000(a, b)


def finish(
    rgb: UInt8Array,
    counts: ColorCounts,
    *,
    pixels: UInt8Array | None = None,
    alpha_threshold: int = 128,
) -> tuple[UInt8Array, npt.NDArray[np.int64], float]:
    """Return the final colours, the opaque pixels each owns under the rule, and the mean ΔE2000.

    Parameters
    ----------
    rgb : ndarray of shape (k, 3), uint8
        Distinct cluster colours.
    counts : ColorCounts
        The histogram the colours were found from.
    pixels : ndarray, optional
        The image those counts came from ((H, W, 3|4) uint8). Needed for exact figures
        when the histogram holds cell means (photos); without it they come from the cell
        means (the shares are then exact except for pixels equal to a palette colour,
        the error an estimate).
    alpha_threshold : int
        The threshold the counts were made with.
    """
    cells = np.unique(cell_index(counts.colors))
    rule = _owning(rule_for_cells(rgb, cells), counts, cells)
    rule = _snap(rule, counts, cells, pixels, alpha_threshold)
    owned, error = measure_counts(rule, counts, pixels=pixels, alpha_threshold=alpha_threshold)
    return rule.colors, owned, error


def measure_counts(
    rule: Rule, counts: ColorCounts, *, pixels: UInt8Array | None = None, alpha_threshold: int = 128
) -> tuple[npt.NDArray[np.int64], float]:
    """Opaque pixels per palette colour under `rule`, and their mean ΔE2000 to it (see `finish`)."""
    k = len(rule.colors)
    if pixels is not None and not counts.exact:
        owned, total = flat_error(pixels, rule, alpha_threshold=alpha_threshold)
        return owned, total / max(int(owned.sum()), 1)
    labels = labels_of_colors(counts.colors, rule, exact=counts.exact)
    owned = np.bincount(labels, counts.counts, minlength=k).astype(np.int64)
    de = de2000_pairs(lab_from_srgb(counts.colors), rule.lab[labels])
    return owned, float(np.dot(counts.counts, de) / max(counts.total, 1))


def _row_labels(rule: Rule, counts: ColorCounts) -> npt.NDArray[np.intp]:
    return labels_of_colors(counts.colors, rule, exact=counts.exact)


def _owning(rule: Rule, counts: ColorCounts, cells: npt.NDArray[np.intp]) -> Rule:
    """Replace colours that own no pixel under the rule (at most k + 1 rounds; then they stay)."""
    rgb = rule.colors
    k = len(rgb)
    for _ in range(k + 1):
        labels = _row_labels(rule, counts)
        owned = np.bincount(labels, counts.counts, minlength=k)
        empty = np.flatnonzero(owned == 0)
        if len(empty) == 0:
            break
        # the row contributing the most error moves the first idle colour onto itself
        de = de2000_pairs(lab_from_srgb(counts.colors), rule.lab[labels])
        present = {tuple(c) for c in rgb.tolist()}
        for i in np.argsort(-(counts.counts * de), kind="stable"):
            candidate = tuple(int(v) for v in _representative(counts, int(i)))
            if candidate not in present:
                rgb = rgb.copy()
                rgb[empty[0]] = candidate
                break
        else:
            break
        rule = rule_for_cells(rgb, cells)
    return rule


def _representative(counts: ColorCounts, i: int) -> UInt8Array:
    """An 8-bit colour for row i: the colour itself, or (cell means) the centre of its cell."""
    if counts.exact:
        return counts.colors[i].astype(np.uint8)
    shift = 8 - CELL_BITS
    return ((np.floor(counts.colors[i]).astype(np.int64) >> shift << shift) + (1 << (shift - 1))).astype(np.uint8)


def _snap(
    rule: Rule, counts: ColorCounts, cells: npt.NDArray[np.intp], pixels: UInt8Array | None, thr: int
) -> Rule:
    """Move each colour onto the exact image colour that dominates its cluster, when within `SNAP_DE`."""
    rgb = rule.colors
    k = len(rgb)
    labels = _row_labels(rule, counts)
    owned = np.bincount(labels, counts.counts, minlength=k)
    # the largest row of each cluster
    order = np.lexsort((-counts.counts, labels))
    first = np.searchsorted(labels[order], np.arange(k))
    top = order[np.minimum(first, len(order) - 1)]
    big = (counts.counts[top] > SNAP_SHARE * owned) & (labels[top] == np.arange(k))
    if not big.any():
        return rule
    if counts.exact:
        best = counts.colors[top].astype(np.uint8)
        best_n = counts.counts[top]
    else:
        if pixels is None:
            return rule
        best, best_n = _top_exact(pixels, thr, cell_index(counts.colors[top]), big)
    near = de2000_pairs(lab_from_srgb(best), rule.lab) <= SNAP_DE
    out = rgb.copy()
    for j in np.flatnonzero(big & near & (best_n > SNAP_SHARE * owned)):
        colour = best[j]
        if not any(np.array_equal(colour, c) for i, c in enumerate(out) if i != j):
            out[j] = colour
    return rule if np.array_equal(out, rgb) else rule_for_cells(out, cells)


def _top_exact(
    pixels: UInt8Array, thr: int, top_cells: npt.NDArray[np.intp], wanted: npt.NDArray[np.bool_]
) -> tuple[UInt8Array, npt.NDArray[np.int64]]:
    """The most frequent exact colour in each wanted cell of `top_cells`, and its pixel count."""
    k = len(top_cells)
    shift = 8 - CELL_BITS
    sub = 1 << (3 * shift)
    rank = np.full(CELLS, k, np.int64)  # every other cell counts into a spare block
    for j in np.flatnonzero(wanted)[::-1]:  # a cell wanted twice keeps its first rank
        rank[top_cells[j]] = j
    exact = np.zeros((k + 1) * sub, np.int64)
    image = np.ascontiguousarray(pixels, dtype=np.uint8)
    channels = image.shape[-1]
    if KERNELS is not None:
        KERNELS.exact_histogram(image, channels, int(thr), CELL_BITS, rank, exact)
    else:
        flat = image.reshape(-1, channels)
        if channels == 4:
            flat = flat[flat[:, 3] >= thr]
        rgb = flat[:, :3]
        low = (1 << shift) - 1
        key = rank[cell_index(rgb)] << (3 * shift)
        key |= ((rgb[:, 0] & low).astype(np.int64) << (2 * shift)) | ((rgb[:, 1] & low).astype(np.int64) << shift)
        key |= rgb[:, 2] & low
        exact = np.bincount(key, minlength=(k + 1) * sub).astype(np.int64)
    table = exact[: k * sub].reshape(k, sub)
    pos = np.argmax(table, axis=1)
    n = table[np.arange(k), pos]
    cell = top_cells
    low_bits = np.stack([(pos >> (2 * shift)) & 7, (pos >> shift) & 7, pos & 7], axis=1)
    hi = np.stack([(cell >> (2 * CELL_BITS)) & 31, (cell >> CELL_BITS) & 31, cell & 31], axis=1)
    colours = ((hi << shift) | low_bits).astype(np.uint8)
    # a cell shared by two clusters was counted under its first rank only
    for j in range(k):
        if wanted[j] and rank[top_cells[j]] != j:
            n[j] = 0
    return colours, n.astype(np.int64)
