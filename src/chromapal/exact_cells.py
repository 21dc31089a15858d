"""The exact colours of a few histogram cells: what a palette colour may snap to.

The histogram (`chromapal.sample`) keeps only each 8 x 8 x 8 cell's mean colour and count.
When a palette colour may snap to the most frequent exact colour of a cell, or a palette
colour's own pixels must be counted apart from its cell's, the exact colours of just those
cells are counted in one pass over the pixels (`cell_colours`), which can stop early when
no colour of those cells can hold enough pixels to matter.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._types import FloatArray, UInt8Array
from .assign import CELLS, KERNELS, cell_index


def sub_index(rgb: npt.ArrayLike) -> npt.NDArray[np.intp]:
    """Position of each 8-bit colour ``(..., 3)`` inside its cell: the low 3 bits of r, g, b."""
    c = np.asarray(rgb).astype(np.intp) & 7
    return (c[..., 0] << 6) | (c[..., 1] << 3) | c[..., 2]


def colour_at(cell: int, sub: int) -> tuple[int, int, int]:
    """The 8-bit colour at position `sub` of histogram cell `cell`."""
    return (
        ((cell >> 10) & 31) << 3 | (sub >> 6) & 7,
        ((cell >> 5) & 31) << 3 | (sub >> 3) & 7,
        (cell & 31) << 3 | sub & 7,
    )


def cell_colours(
    pixels: UInt8Array,
    thr: int,
    cells: npt.NDArray[np.intp],
    *,
    totals: npt.NDArray[np.int64] | None = None,
    need: FloatArray | None = None,
) -> npt.NDArray[np.int64] | None:
    """Pixels of each of the 512 exact colours of each cell in `cells` (distinct), shape (len(cells), 512).

    With `totals` (each cell's opaque pixels) and `need` (a count per cell), None when
    no colour of any of the cells has more than its cell's `need` pixels: the compiled
    pass then stops as soon as that is certain (usually early for photos).
    """
    m = len(cells)
    rank = np.full(CELLS, m, np.int64)  # every other cell counts into a spare block
    rank[cells] = np.arange(m)
    image = np.ascontiguousarray(pixels, dtype=np.uint8)
    channels = image.shape[-1]
    if KERNELS is not None:
        exact = np.zeros((m + 1) * 512, np.int64)
        early = need is not None and totals is not None
        complete = KERNELS.cell_colours(
            image, channels, int(thr), rank, np.ascontiguousarray(totals if early else np.zeros(m), np.int64),
            np.ascontiguousarray(need if early else np.zeros(0), np.float64), exact,
        )
        if not complete:
            return None
    else:
        flat = image.reshape(-1, channels)
        if channels == 4:
            flat = flat[flat[:, 3] >= thr]
        key = (rank[cell_index(flat[:, :3])] << 9) | sub_index(flat[:, :3])
        exact = np.bincount(key, minlength=(m + 1) * 512).astype(np.int64)
    return exact[: m * 512].reshape(m, 512)
