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

from collections.abc import Sequence
from threading import Thread
from typing import Final

import numpy as np
import numpy.typing as npt

from ._types import FloatArray, UInt8Array
from .adjust import hide_colors
from .arrays import as_image_array
from .assign import (
    _WHITE_C,
    _XYZ,
    CELL_BITS,
    KERNELS,
    Rule,
    _flat,
    cell_index,
    labels_of_colors,
    rule_for_cells,
)
from .colorspace import SRGB8_TO_LINEAR, ciede2000, lab_from_srgb
from .exact_cells import cell_colours, colour_at, sub_index
from .sample import ColorCounts, color_counts

#: From this many distinct colours their error is computed on two threads.
SPLIT_ROWS: Final = 1 << 14
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


def distinct_counts(pixels: UInt8Array, *, alpha_threshold: int = 128) -> ColorCounts:
    """The exact distinct colours of the opaque pixels, their counts and CIELAB, as `ColorCounts`."""
    px, channels = _flat(pixels)
    if KERNELS is not None:
        keys_b, counts_b, lab_b = KERNELS.distinct_colors(
            px, channels, int(alpha_threshold), SRGB8_TO_LINEAR, _XYZ, _WHITE_C
        )
        keys = np.frombuffer(keys_b, np.uint32).astype(np.int64)
        counts = np.frombuffer(counts_b, np.int64)
        lab = np.frombuffer(lab_b, np.float64).reshape(-1, 3)
    else:
        flat = px.reshape(-1, channels)
        if channels == 4:
            flat = flat[flat[:, 3] >= alpha_threshold]
        key = (flat[:, 0].astype(np.int64) << 16) | (flat[:, 1].astype(np.int64) << 8) | flat[:, 2]
        keys, counts = np.unique(key, return_counts=True)
        order = np.argsort(_cell_major(keys), kind="stable")  # the kernel's order: by cell, then within it
        keys, counts, lab = keys[order], counts[order], None
    rgb = np.stack([(keys >> 16) & 255, (keys >> 8) & 255, keys & 255], axis=1).astype(np.float64)
    return ColorCounts(rgb, counts.astype(np.int64), True, lab=lab if lab is not None else lab_from_srgb(rgb))


def _cell_major(keys: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    """Sort keys of ``r << 16 | g << 8 | b``: cell (5 high bits a channel) first, then the low bits."""
    r, g, b = (keys >> 16) & 255, (keys >> 8) & 255, keys & 255
    cell = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3)
    return (cell << 9) | ((r & 7) << 6) | ((g & 7) << 3) | (b & 7)


class Prefetch:
    """`distinct_counts` of an image, computed on a second thread while the palette is found.

    The kernel releases the GIL, so on a machine with a spare core the exact colours
    cost (almost) no wall time; `result` waits for them. Without the compiled kernels
    the work is done in `result`, on the caller's thread.
    """

    def __init__(self, pixels: UInt8Array, *, alpha_threshold: int = 128) -> None:
        self._pixels, self._threshold = pixels, alpha_threshold
        self._out: list[ColorCounts | BaseException] = []
        self._thread: Thread | None = None
        if KERNELS is not None:
            self._thread = Thread(target=self._run, name="chromapal-distinct", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self._out.append(distinct_counts(self._pixels, alpha_threshold=self._threshold))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by result()
            self._out.append(exc)

    def result(self) -> ColorCounts:
        """The exact colours (errors raised in the worker are raised here)."""
        if self._thread is not None:
            self._thread.join()
        else:
            self._run()
        self._pixels = None  # type: ignore[assignment]  # the image is not kept
        out = self._out[0]
        if isinstance(out, BaseException):
            raise out
        return out


def row_stats(rule: Rule, rows: ColorCounts) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], float]:
    """For exact colours with counts: pixels per palette colour, each colour's largest row, total ΔE2000.

    The largest row of a colour is the index into `rows` of its most frequent exact
    colour (-1 for a colour that owns none; the first on ties); the total is the sum of
    count x ΔE2000 to the colour each row belongs to under `rule`.
    """
    k = len(rule.colors)
    lab = rows.lab if rows.lab is not None else lab_from_srgb(rows.colors)
    if KERNELS is None:
        labels = labels_of_colors(rows.colors, rule, exact=True)
        owned = np.bincount(labels, rows.counts, minlength=k).astype(np.int64)
        order = np.lexsort((np.arange(len(labels)), -rows.counts, labels))
        first = np.searchsorted(labels[order], np.arange(k))
        top = np.where(owned > 0, order[np.minimum(first, len(order) - 1)], -1).astype(np.int64)
        return owned, top, float(np.dot(rows.counts, ciede2000(lab, rule.lab[labels])))
    args = [np.ascontiguousarray(a) for a in (rows.colors, lab, rows.counts)]
    tables = (rule.cells, rule.sub, np.ascontiguousarray(rule.lab))

    def run(lo: int, hi: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], float]:
        owned, top = np.zeros(k, np.int64), np.zeros(k, np.int64)
        total = KERNELS.rows_stats(*(a[lo:hi] for a in args), *tables, owned, top)
        return owned, np.where(top >= 0, top + lo, -1), float(total)

    n = len(rows.counts)
    if n < SPLIT_ROWS:
        return run(0, n)
    half = n // 2  # two threads (the kernel releases the GIL); merged in a fixed order
    second: list[tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], float]] = []
    worker = Thread(target=lambda: second.append(run(half, n)))
    worker.start()
    a_owned, a_top, a_total = run(0, half)
    worker.join()
    b_owned, b_top, b_total = second[0]
    counts = rows.counts
    a_n = np.where(a_top >= 0, counts[np.maximum(a_top, 0)], -1)
    b_n = np.where(b_top >= 0, counts[np.maximum(b_top, 0)], -1)
    return a_owned + b_owned, np.where(b_n > a_n, b_top, a_top), a_total + b_total


def finish(
    rgb: UInt8Array,
    counts: ColorCounts,
    *,
    exact: ColorCounts | Prefetch | None = None,
    pixels: UInt8Array | None = None,
    alpha_threshold: int = 128,
) -> tuple[UInt8Array, npt.NDArray[np.int64], float | None]:
    """Return the final colours, the opaque pixels each owns under the rule, and the mean ΔE2000.

    Parameters
    ----------
    rgb : ndarray of shape (k, 3), uint8
        Distinct cluster colours.
    counts : ColorCounts
        The histogram the colours were found from (made with `alpha_threshold`).
    exact : ColorCounts or Prefetch, optional
        The image's exact distinct colours (`distinct_counts`, or a `Prefetch` computing
        them meanwhile). With them, or when `counts` holds exact colours, the error is
        computed; otherwise it is None (it needs every exact colour: see `distinct_counts`).
    pixels : ndarray, optional
        The image, for the few pixel passes the shares and exact colours may need when
        `counts` holds cell means (a palette colour whose cell is another colour's, a
        cluster one colour dominates). Without it those shares count such pixels by
        their cell.
    """
    cells = cell_index(counts.colors)  # cell means: one row per occupied cell, in order
    if counts.exact:
        cells = np.unique(cells)
    rule = _owning(rule_for_cells(rgb, cells), counts, cells)
    rows = counts if counts.exact else exact.result() if isinstance(exact, Prefetch) else exact
    if rows is None:
        rule, owned = _cell_mode(rule, counts, cells, pixels, alpha_threshold)
        return rule.colors, owned, None
    owned, top, total = row_stats(rule, rows)
    snapped = _snap(rule, rows, cells, owned, top)
    if snapped is not rule:
        rule = snapped
        owned, _, total = row_stats(rule, rows)
    return rule.colors, owned, total / max(rows.total, 1)


def _cell_mode(
    rule: Rule, counts: ColorCounts, cells: npt.NDArray[np.intp], pixels: UInt8Array | None, thr: int
) -> tuple[Rule, npt.NDArray[np.int64]]:
    """Exact colours and shares from cell counts, reading exact colours only in the few cells that need them.

    Two kinds of cell do: one holding most of a cluster (its most frequent colour may be
    the colour to snap to) and one holding a palette colour its cell does not go to (that
    colour keeps its own pixels under the rule). One pass over `pixels` counts the exact
    colours of all of them; without `pixels` neither is done.
    """
    for snapping in (True, False):  # a snapped palette changes which cells hold palette colours: once more
        k = len(rule.colors)
        labels = _row_labels(rule, counts, cells)
        owned = np.bincount(labels, counts.counts, minlength=k).astype(np.int64)
        big_rows = np.flatnonzero(counts.counts > SNAP_SHARE * owned[labels])  # at most one per cluster
        if not snapping:
            big_rows = big_rows[:0]
        own_cell = cell_index(rule.colors)
        strangers = np.flatnonzero(rule.base[own_cell] != np.arange(k))
        if pixels is None or (len(big_rows) == 0 and len(strangers) == 0):
            return rule, owned
        needed = np.unique(np.concatenate([cells[big_rows], own_cell[strangers]]))
        need = None
        if len(strangers) == 0:  # only snapping: the pass may stop once no colour can hold enough
            need = np.empty(len(needed))
            need[np.searchsorted(needed, cells[big_rows])] = SNAP_SHARE * owned[labels[big_rows]]
        totals = counts.counts[np.searchsorted(cells, needed)].astype(np.int64)  # cells: one row each, in order
        table = cell_colours(pixels, thr, needed, totals=totals, need=need)
        if table is None:  # no colour of those cells holds more than half its cluster: nothing snaps
            return rule, owned
        where = {int(c): i for i, c in enumerate(needed)}
        for j in strangers:  # those pixels are j's, not the cell's
            n = table[where[int(own_cell[j])], int(sub_index(rule.colors[j]))]
            owned[j] += n
            owned[rule.base[own_cell[j]]] -= n
        if len(big_rows) == 0:
            return rule, owned
        rows_cells = cells[big_rows]
        tops = np.array([int(np.argmax(table[where[int(c)]])) for c in rows_cells])
        best = np.array([colour_at(int(c), int(t)) for c, t in zip(rows_cells, tops, strict=True)], np.uint8)
        best_n = np.array([table[where[int(c)], t] for c, t in zip(rows_cells, tops, strict=True)], np.int64)
        top = np.full(k, -1, np.int64)
        top[labels[big_rows]] = np.arange(len(big_rows))
        snapped = _snap(rule, ColorCounts(best.astype(np.float64), np.maximum(best_n, 1), True), cells, owned, top)
        if snapped is rule:
            return rule, owned
        rule = snapped
    raise AssertionError("unreachable: the second round does not snap")  # pragma: no cover


def measure_counts(rule: Rule, counts: ColorCounts) -> tuple[npt.NDArray[np.int64], float]:
    """Opaque pixels per palette colour under `rule`, and their mean ΔE2000 to it, from `counts` alone.

    Exact when `counts` holds exact colours; from cell means the error is an estimate.
    """
    if counts.exact:
        owned, _, total = row_stats(rule, counts)
        return owned, total / max(counts.total, 1)
    k = len(rule.colors)
    labels = labels_of_colors(counts.colors, rule, exact=False)
    owned = np.bincount(labels, counts.counts, minlength=k).astype(np.int64)
    de = de2000_pairs(lab_from_srgb(counts.colors), rule.lab[labels])
    return owned, float(np.dot(counts.counts, de) / max(counts.total, 1))


def estimate_error(colors: UInt8Array, counts: ColorCounts) -> float:
    """Mean ΔE2000 of the image to `colors` under the rule, from `counts` alone (exact for exact colours)."""
    cells = np.unique(cell_index(counts.colors))
    return measure_counts(rule_for_cells(colors, cells), counts)[1]


def _row_labels(rule: Rule, counts: ColorCounts, cells: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """The label of each row of `counts`; `cells` are the rows' cells when they are cell means."""
    if not counts.exact:  # one row per cell, `cells` in row order: the cell's label
        return rule.base[cells].astype(np.intp)
    return labels_of_colors(counts.colors, rule, exact=True)


def _owning(rule: Rule, counts: ColorCounts, cells: npt.NDArray[np.intp]) -> Rule:
    """Replace colours that own no pixel under the rule (at most k + 1 rounds; then they stay)."""
    rgb = rule.colors
    k = len(rgb)
    for _ in range(k + 1):
        labels = _row_labels(rule, counts, cells)
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
        rule = rule_for_cells(rgb, cells, previous=rule)
    return rule


def _representative(counts: ColorCounts, i: int) -> UInt8Array:
    """An 8-bit colour for row i: the colour itself, or (cell means) the centre of its cell."""
    if counts.exact:
        return counts.colors[i].astype(np.uint8)
    shift = 8 - CELL_BITS
    return ((np.floor(counts.colors[i]).astype(np.int64) >> shift << shift) + (1 << (shift - 1))).astype(np.uint8)


def _snap(
    rule: Rule,
    rows: ColorCounts,
    cells: npt.NDArray[np.intp],
    owned: npt.NDArray[np.int64],
    top: npt.NDArray[np.int64],
) -> Rule:
    """Move each colour onto the exact image colour (`rows`) that dominates its cluster, within `SNAP_DE`.

    `owned` and `top` are `row_stats` under `rule`. Returns `rule` itself when nothing moves.
    """
    rgb = rule.colors
    held = np.where(top >= 0, rows.counts[np.maximum(top, 0)], 0)
    big = np.flatnonzero(held > SNAP_SHARE * owned)  # more than half of its cluster
    if len(big) == 0:
        return rule
    best = rows.colors[top[big]].astype(np.uint8)
    near = de2000_pairs(lab_from_srgb(best), rule.lab[big]) <= SNAP_DE
    out = rgb.copy()
    for j, colour in zip(big[near], best[near], strict=True):
        if not any(np.array_equal(colour, c) for m, c in enumerate(out) if m != j):
            out[j] = colour
    return rule if np.array_equal(out, rgb) else rule_for_cells(out, cells, previous=rule)


def counted_image(
    image: npt.ArrayLike,
    *,
    alpha_threshold: int,
    ignore: Sequence[Sequence[int]],
    ignore_tolerance: float,
    exact_needed: bool,
) -> tuple[UInt8Array, ColorCounts, int, Prefetch | None]:
    """What every palette of a decoded image starts from: (pixels, counts, alpha threshold, exact).

    The array is checked and scaled (`chromapal.arrays.as_image_array`), the ``ignore``
    colours hidden (their pixels get alpha 0, so the threshold becomes at least 1), the
    histogram counted, and, when `exact_needed` and the histogram does not hold the exact
    colours already, their counting started on a second thread (`Prefetch`).
    """
    image = as_image_array(np.asarray(image))  # uint16 and float scaled; other dtypes refused
    if len(ignore):
        image = hide_colors(image, ignore, ignore_tolerance)
        alpha_threshold = max(alpha_threshold, 1)
    counts = color_counts(image, alpha_threshold=alpha_threshold)
    want = exact_needed and not counts.exact and len(counts.counts) > 0
    exact = Prefetch(image, alpha_threshold=alpha_threshold) if want else None
    return image, counts, alpha_threshold, exact

