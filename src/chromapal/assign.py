"""The one assignment rule: which palette colour each pixel belongs to.

Every face of chromapal (the shares of a palette, its reported error, ``recolor``,
``sweep``, ``report``, the web preview, dithering) decides with this rule, so they
tell the same story:

    An opaque pixel belongs to the palette colour of least CIEDE2000 from the
    centre of the pixel's histogram cell (8 x 8 x 8 sRGB codes, the cells
    `chromapal.sample.color_counts` counts in). A cell that holds palette colours
    belongs to the one of them nearest its centre, and a pixel of exactly a palette
    colour keeps that colour.

The decision is made once per cell (at most 32,768, each compared with every palette
colour) and applied to pixels through a look-up table, so it is as fast for a
24-megapixel photo as for a thumbnail, and the same colour always gets the same
palette colour. Because a cell's pixels all share its label, the shares follow from
the cell counts a palette is built from: the pixel counts of the flattened image
divided by its opaque pixel count are the shares, exactly. Deciding at the cell
centre instead of at each exact colour costs 1.3 % of mean ΔE2000 on the Kodak
photos at k = 8 (docs/benchmarks.md); nearest by Oklab (the old ``recolor`` rule)
cost 8 %.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from functools import cache
from threading import Lock, Thread
from typing import Final

import numpy as np
import numpy.typing as npt

from ._types import FloatArray, UInt8Array
from .colorspace import _RGB_TO_XYZ, _WHITE, SRGB8_TO_LINEAR, ciede2000, lab_from_srgb
from .errors import EmptyImageError
from .palette import Palette

try:  # the compiled twins of the loops below; None when the extension was not built
    from . import _kernels as KERNELS
except ImportError:  # pragma: no cover - depends on the build
    KERNELS = None  # type: ignore[assignment]

#: Bits per channel of the cells the rule decides on (as `chromapal.sample.BITS`).
CELL_BITS: Final = 5
CELLS: Final = 1 << (3 * CELL_BITS)
#: Rules kept for reuse (a sweep or the web slider asks for the same palette again).
CACHE_SIZE: Final = 16
#: Pixels labelled per step by the NumPy fallback (bounds its temporaries).
CHUNK: Final = 1 << 20
#: From this many pixels the exact error is computed on two threads, half the pixels each.
SPLIT_PIXELS: Final = 1 << 17


@dataclass(frozen=True, eq=False)
class Rule:
    """The rule for one palette: a label (index into `colors`) for every histogram cell.

    ``cells[c] >= 0`` is the label of every colour in cell c; ``cells[c] = -1 - s`` marks
    a cell that holds a palette colour: its 512 colours are labelled by row s of `sub`
    (the palette colour itself gets its own label, the others the cell's, ``base[c]``).
    """

    colors: UInt8Array  # (k, 3) the palette's sRGB colours
    lab: FloatArray  # (k, 3) the same in CIELAB
    cells: npt.NDArray[np.int32]  # (CELLS,) label, or -1 - row of `sub`
    sub: UInt8Array  # (rows * 512,) labels of the colours of split cells
    base: npt.NDArray[np.int32]  # (CELLS,) label of each cell's centre
    #: For a rule decided only for some cells (`rule_for_cells`): those cells, the palette
    #: colour of least ΔE2000 from each one's centre (before cells holding palette colours
    #: are given to one of them) and that ΔE2000; reused when a few colours change.
    decided: tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], FloatArray] | None = None


@cache
def cell_centres_lab() -> FloatArray:
    """CIELAB of the centre of every cell, (CELLS, 3): the colours the rule decides at."""
    idx = np.arange(CELLS)
    top = (1 << CELL_BITS) - 1
    shift = 8 - CELL_BITS
    rgb = np.stack([(idx >> 2 * CELL_BITS) & top, (idx >> CELL_BITS) & top, idx & top], axis=1)
    centre = (rgb << shift) + ((1 << shift) - 1) / 2
    lab = lab_from_srgb(centre.astype(np.float64))
    lab.setflags(write=False)
    return lab


def cell_index(rgb: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """Cell of each sRGB colour ``(..., 3)`` (uint8 codes or cell means in [0, 255])."""
    c = np.floor(np.asarray(rgb)).astype(np.intp) >> (8 - CELL_BITS)
    return (c[..., 0] << 2 * CELL_BITS) | (c[..., 1] << CELL_BITS) | c[..., 2]


def nearest_de2000(lab: FloatArray, centers: FloatArray) -> tuple[npt.NDArray[np.int64], FloatArray]:
    """Index of the centre of least CIEDE2000 for each CIELAB point (first on ties), and that ΔE2000."""
    lab = np.ascontiguousarray(lab, dtype=np.float64)
    centers = np.ascontiguousarray(centers, dtype=np.float64)
    if KERNELS is not None and lab.ndim == 2 and lab.shape[1] == 3 and len(centers):
        labels = np.empty(len(lab), np.int64)
        de = np.empty(len(lab))
        KERNELS.nearest_de2000(lab, centers, labels, de)  # on two cores from 1,024 points (fixed halves)
        return labels, de
    return _nearest_de2000_numpy(lab, centers)


def _nearest_de2000_numpy(lab: FloatArray, centers: FloatArray) -> tuple[npt.NDArray[np.int64], FloatArray]:
    labels = np.zeros(len(lab), np.int64)
    best = np.full(len(lab), np.inf)
    for j, c in enumerate(centers):  # one centre at a time: memory stays (n,)
        de = ciede2000(lab, c[None, :])
        closer = de < best
        labels[closer] = j
        best[closer] = de[closer]
    return labels, best


_RULES: OrderedDict[bytes, Rule] = OrderedDict()
_RULES_LOCK = Lock()


def rule_for(colors: npt.ArrayLike) -> Rule:
    """The rule of a palette of (k, 3) uint8 sRGB colours, 1 <= k <= 256 (cached)."""
    rgb = np.ascontiguousarray(colors, dtype=np.uint8).reshape(-1, 3)
    if not 1 <= len(rgb) <= 256:
        raise ValueError(f"a palette must have 1 to 256 colours to label pixels (got {len(rgb)})")
    key = rgb.tobytes()
    with _RULES_LOCK:
        rule = _RULES.get(key)
        if rule is not None:
            _RULES.move_to_end(key)
            return rule
    lab = lab_from_srgb(rgb)
    labels, _ = nearest_de2000(cell_centres_lab(), lab)
    rule = _make_rule(rgb, lab, labels)
    with _RULES_LOCK:
        _RULES[key] = rule
        while len(_RULES) > CACHE_SIZE:
            _RULES.popitem(last=False)
    return rule


def rule_for_cells(colors: npt.ArrayLike, cells: npt.NDArray[np.intp], *, previous: Rule | None = None) -> Rule:
    """The rule decided only for `cells` (the others get label 0): for pixels known to lie in them.

    `extract` knows which cells its pixels occupy; deciding only those is what keeps it fast.
    With `previous`, a rule decided for the same cells and a palette of the same size of
    which only a few colours differ (a colour snapped or replaced), only the changed
    colours are compared with each cell, except for cells that went to a changed colour:
    the same labels as deciding afresh (each cell keeps the least ΔE2000, the first
    colour on ties), at a fraction of the work.
    """
    rgb = np.ascontiguousarray(colors, dtype=np.uint8).reshape(-1, 3)
    lab = lab_from_srgb(rgb)
    labels = np.zeros(CELLS, np.int64)
    centres = np.take(cell_centres_lab(), cells, axis=0)  # (4x faster than fancy indexing here)
    if previous is not None and _reusable(previous, rgb, cells):
        assert previous.decided is not None
        cell_labels, de = previous.decided[1].copy(), previous.decided[2].copy()
        changed = np.flatnonzero((previous.colors != rgb).any(axis=1))
        _update(cell_labels, de, centres, lab, changed)
    else:
        cell_labels, de = nearest_de2000(centres, lab)
    labels[cells] = cell_labels
    rule = _make_rule(rgb, lab, labels)
    for a in (cell_labels, de):
        a.setflags(write=False)
    return Rule(rule.colors, rule.lab, rule.cells, rule.sub, rule.base, decided=(cells, cell_labels, de))


def _reusable(previous: Rule, rgb: UInt8Array, cells: npt.NDArray[np.intp]) -> bool:
    """Whether `previous` was decided for these cells, with as many colours, few of them changed."""
    if previous.decided is None or previous.colors.shape != rgb.shape:
        return False
    if previous.decided[0] is not cells and not np.array_equal(previous.decided[0], cells):
        return False
    changed = int((previous.colors != rgb).any(axis=1).sum())
    return 0 < changed <= len(rgb) // 2


def _update(
    labels: npt.NDArray[np.int64], de: FloatArray, centres: FloatArray, lab: FloatArray,
    changed: npt.NDArray[np.intp],
) -> None:
    """Labels and ΔE2000 of cells after the colours `changed` moved to `lab[changed]`, in place.

    Before: each cell's least ΔE2000 over the old colours and the first colour reaching it.
    A cell whose colour did not change keeps that colour unless a changed one is nearer,
    or as near with a lower index (the first on ties, as a fresh decision); a cell whose
    colour changed is decided afresh over every colour. Both differences are computed by
    the same kernel as a fresh decision, so they are the same numbers.
    """
    moved = np.isin(labels, changed)
    if moved.any():
        labels[moved], de[moved] = nearest_de2000(centres[moved], lab)
    keep = np.flatnonzero(~moved)
    if len(keep):
        idx, near = nearest_de2000(centres[keep], lab[changed])
        cand = changed[idx]
        better = (near < de[keep]) | ((near == de[keep]) & (cand < labels[keep]))
        labels[keep[better]], de[keep[better]] = cand[better], near[better]


def _make_rule(rgb: UInt8Array, lab: FloatArray, labels: npt.NDArray[np.int64]) -> Rule:
    """Build the tables: each cell's label, and a split row for each cell holding a palette colour."""
    rgb = rgb.copy()
    base = labels.astype(np.int32)
    own = cell_index(rgb)
    split = np.unique(own)
    # a cell holding palette colours belongs to the one of them nearest its centre (the
    # differences are needed only where a cell holds two or more)
    if len(split) == len(own):
        base[own] = np.arange(len(own), dtype=np.int32)
    else:
        de = ciede2000(cell_centres_lab()[own], lab)
        for cell in split:
            members = np.flatnonzero(own == cell)
            base[cell] = members[int(np.argmin(de[members]))]
    cells = base.copy()
    sub = np.repeat(base[split].astype(np.uint8), 512)
    row = np.searchsorted(split, own)
    sub[row * 512 + _sub_index(rgb)] = np.arange(len(rgb), dtype=np.uint8)
    cells[split] = -1 - np.arange(len(split), dtype=np.int32)
    for a in (rgb, lab, cells, sub, base):
        a.setflags(write=False)
    return Rule(rgb, lab, cells, sub, base)


def _sub_index(rgb: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """Position of each colour inside its cell: the low 3 bits of r, g, b."""
    c = np.asarray(rgb).astype(np.intp) & 7
    return (c[..., 0] << 6) | (c[..., 1] << 3) | c[..., 2]


def labels_of_colors(rgb: npt.ArrayLike, rule: Rule, *, exact: bool = True) -> npt.NDArray[np.intp]:
    """Label of each sRGB colour ``(..., 3)`` under `rule`.

    `rgb` holds exact 8-bit colours (``exact=True``) or histogram-cell means
    (``exact=False``: each is labelled as its cell's centre).
    """
    rgb = np.asarray(rgb)
    cell = cell_index(rgb)
    if not exact:
        return rule.base[cell].astype(np.intp)
    v = rule.cells[cell].astype(np.intp)
    split = v < 0
    if split.any():
        v[split] = rule.sub[(-1 - v[split]) * 512 + _sub_index(rgb[split])]
    return v


# -- pixels -----------------------------------------------------------------------------------


def _flat(pixels: UInt8Array) -> tuple[UInt8Array, int]:
    if pixels.ndim < 2 or pixels.shape[-1] not in (3, 4):
        raise ValueError(f"pixels must have shape (..., 3) or (..., 4) (got {pixels.shape})")
    return np.ascontiguousarray(pixels, dtype=np.uint8), pixels.shape[-1]


def flatten_labels(
    pixels: UInt8Array, rule: Rule, *, alpha_threshold: int = 128, labels: bool = True
) -> tuple[UInt8Array | None, npt.NDArray[np.int64]]:
    """Label every pixel by `rule`; return the labels (shape ``pixels.shape[:-1]``) and the counts.

    The counts, shape (k,), are the opaque pixels (alpha at least `alpha_threshold`) per
    palette colour; transparent pixels are labelled too (a picture needs some index there)
    but not counted. With ``labels=False`` only the counts are made.
    """
    px, channels = _flat(pixels)
    k = len(rule.colors)
    out = np.empty(px.shape[:-1], np.uint8) if labels else np.zeros(0, np.uint8)
    if KERNELS is not None:
        counts = np.zeros(256, np.int64)
        KERNELS.flatten(px, channels, int(alpha_threshold), rule.cells, rule.sub, out, counts)
        return (out if labels else None), counts[:k]
    counts = np.zeros(k, np.int64)
    flat = px.reshape(-1, channels)
    out_flat = out.reshape(-1)
    for start in range(0, len(flat), CHUNK):
        part = flat[start : start + CHUNK]
        lab = labels_of_colors(part[:, :3], rule).astype(np.uint8)
        if labels:
            out_flat[start : start + CHUNK] = lab
        if channels == 4:
            lab = lab[part[:, 3] >= alpha_threshold]
        counts += np.bincount(lab, minlength=k)[:k]
    return (out if labels else None), counts


_XYZ: Final = np.ascontiguousarray(_RGB_TO_XYZ.reshape(-1))
_WHITE_C: Final = np.ascontiguousarray(_WHITE)


def _flat_error_kernel(
    flat: UInt8Array, channels: int, rule: Rule, alpha_threshold: int
) -> tuple[npt.NDArray[np.int64], float]:
    counts = np.zeros(256, np.int64)
    total = KERNELS.flat_error(
        flat, channels, int(alpha_threshold), rule.cells, rule.sub, np.ascontiguousarray(rule.lab),
        SRGB8_TO_LINEAR, _XYZ, _WHITE_C, counts,
    )
    return counts[: len(rule.colors)], float(total)


def flat_error(
    pixels: UInt8Array, rule: Rule, *, alpha_threshold: int = 128
) -> tuple[npt.NDArray[np.int64], float]:
    """Opaque pixels per palette colour, and the total ΔE2000 of those pixels to their colour.

    The mean, ``total / counts.sum()``, is the mean ΔE2000 of the flattened image.
    """
    px, channels = _flat(pixels)
    k = len(rule.colors)
    if KERNELS is not None:
        flat = px.reshape(-1, channels)
        if len(flat) < SPLIT_PIXELS:
            return _flat_error_kernel(flat, channels, rule, alpha_threshold)
        # two halves on two threads (the kernel releases the GIL); the sums are exact
        # integers and a fixed-order sum of two totals, so the result does not depend on timing
        half = len(flat) // 2
        result: list[tuple[npt.NDArray[np.int64], float]] = []
        worker = Thread(target=lambda: result.append(_flat_error_kernel(flat[half:], channels, rule, alpha_threshold)))
        worker.start()
        first = _flat_error_kernel(flat[:half], channels, rule, alpha_threshold)
        worker.join()
        second = result[0]
        return first[0] + second[0], first[1] + second[1]
    flat = px.reshape(-1, channels)
    if channels == 4:
        flat = flat[flat[:, 3] >= alpha_threshold]
    key = (flat[:, 0].astype(np.int64) << 16) | (flat[:, 1].astype(np.int64) << 8) | flat[:, 2]
    uniq, n = np.unique(key, return_counts=True)
    rgb = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1).astype(np.uint8)
    lab_idx = labels_of_colors(rgb, rule)
    de = ciede2000(lab_from_srgb(rgb), rule.lab[lab_idx])
    return np.bincount(lab_idx, n, minlength=k).astype(np.int64), float(np.sum(n * de))


def measure_palette(pixels: UInt8Array, palette: Palette, *, alpha_threshold: int = 128) -> Palette:
    """`palette` with the shares and ``delta_e`` of exactly these pixels under the rule.

    What a picture flattened from `pixels` shows: each share is the pixel count of its
    colour divided by the opaque pixel count. Colours are reordered by share (ties keep
    their order); a colour no pixel takes keeps a share of 0.

    Raises
    ------
    EmptyImageError
        If no pixel has alpha of at least `alpha_threshold`.
    """
    counts, total = flat_error(pixels, rule_for(palette.colors), alpha_threshold=alpha_threshold)
    n = int(counts.sum())
    if n == 0:
        raise EmptyImageError(
            f"{palette.source or 'image'}: every pixel is transparent (alpha below {alpha_threshold})"
        )
    order = np.argsort(-counts, kind="stable")
    return Palette(
        palette.colors[order], counts[order] / n, source=palette.source, k=palette.k, space=palette.space,
        note=palette.note, meta=palette.meta, delta_e=total / n,
    )
