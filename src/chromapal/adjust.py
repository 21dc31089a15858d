"""Palette clean-up after clustering, and the pixel mask that leaves colours out before it.

Every palette function is pure: it returns a new `Palette` and keeps `source`, `k`,
`space`, `note` and `meta`. Shares always sum to 1 again afterwards.

* `sort_palette`   order by share, lightness, hue or chroma.
* `merge_similar`  merge colours closer than a CIEDE2000 threshold (shares added).
* `drop_small`     drop colours below a minimum share.
* `ignore_mask`    which pixels are near given colours (ΔE76 in CIELAB), to leave them out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike

from ._types import UInt8Array
from .colorspace import ciede2000, lab_from_srgb, lab_to_srgb, oklab_from_srgb
from .palette import Palette

#: Orders accepted by `sort_palette`.
SORT_KEYS: Final = ("share", "lightness", "hue", "chroma")
#: Oklab chroma below which a colour counts as grey when sorting by hue.
GREY_CHROMA: Final = 0.02
#: Default `ignore_mask` tolerance: CIELAB (ΔE76) distance; ~2.3 is a just-noticeable difference.
IGNORE_TOLERANCE: Final = 10.0


def _rebuilt(palette: Palette, colors: ArrayLike, proportions: ArrayLike, *, same_colors: bool = False) -> Palette:
    """A palette like `palette` with new colours and shares.

    ``delta_e`` is kept only when the colours are the same (reordered): merged or dropped
    colours change which colour each pixel belongs to, so the error is no longer known
    (`chromapal.assign.measure_palette` measures it again on the image).
    """
    props = np.asarray(proportions, dtype=np.float64)
    return Palette(
        np.asarray(colors, dtype=np.uint8),
        props / props.sum(),
        source=palette.source,
        k=palette.k,
        space=palette.space,
        note=palette.note,
        meta=palette.meta,
        delta_e=palette.delta_e if same_colors else None,
    )


def sort_palette(palette: Palette, by: str = "share") -> Palette:
    """Return `palette` reordered.

    Parameters
    ----------
    palette : Palette
        Not modified.
    by : {"share", "lightness", "hue", "chroma"}
        ``share``: largest share first. ``lightness``: dark to light (Oklab L).
        ``hue``: by Oklab hue angle from red through yellow, green, blue to purple,
        then the greys (chroma below `GREY_CHROMA`) dark to light. ``chroma``:
        most colourful first. Ties keep the previous order (the sort is stable).

    Raises
    ------
    ValueError
        If `by` is not one of `SORT_KEYS`.
    """
    if by not in SORT_KEYS:
        raise ValueError(f"unknown sort order {by!r}; expected one of {', '.join(SORT_KEYS)}")
    lab = oklab_from_srgb(palette.colors)
    chroma = np.hypot(lab[:, 1], lab[:, 2])
    if by == "share":
        key = -palette.proportions
    elif by == "lightness":
        key = lab[:, 0]
    elif by == "chroma":
        key = -chroma
    else:
        hue = np.degrees(np.arctan2(lab[:, 2], lab[:, 1])) % 360
        # Start the circle at pink-red (Oklab hue ~0) so reds come first; greys last.
        key = np.where(chroma < GREY_CHROMA, 1000 + lab[:, 0], hue)
    order = np.argsort(key, kind="stable")
    return _rebuilt(palette, palette.colors[order], palette.proportions[order], same_colors=True)


def merge_similar(palette: Palette, delta_e: float) -> Palette:
    """Merge colours less than `delta_e` apart (CIEDE2000) until no such pair is left.

    The closest pair is merged first, into the share-weighted mean of the two in
    CIELAB, carrying the sum of their shares; repeated until every pair is at least
    `delta_e` apart. Identical colours are always merged. The result is ordered by
    share, largest first.

    Raises
    ------
    ValueError
        If `delta_e` is negative.
    """
    if delta_e < 0:
        raise ValueError(f"delta_e must be at least 0 (got {delta_e})")
    lab = list(lab_from_srgb(palette.colors))
    shares = list(palette.proportions)
    while len(lab) > 1:
        points = np.array(lab)
        dist = ciede2000(points[:, None, :], points[None, :, :])
        dist[np.diag_indices(len(points))] = np.inf
        i, j = np.unravel_index(int(np.argmin(dist)), dist.shape)
        if dist[i, j] >= delta_e and dist[i, j] > 0:
            break
        i, j = min(i, j), max(i, j)
        total = shares[i] + shares[j]
        lab[i] = (lab[i] * shares[i] + lab[j] * shares[j]) / total
        shares[i] = total
        del lab[j], shares[j]
    rgb = lab_to_srgb(np.array(lab))
    merged = _rebuilt(palette, rgb, shares)
    if len({tuple(c) for c in rgb}) < len(rgb):  # two means rounded onto one uint8 colour
        return merge_similar(merged, 0)
    return sort_palette(merged, "share")


def drop_small(palette: Palette, min_share: float) -> Palette:
    """Drop the colours whose share is below `min_share` (0 to 1); the largest always stays.

    Remaining shares are rescaled to sum to 1; the order is kept.

    Raises
    ------
    ValueError
        If `min_share` is not within [0, 1].
    """
    if not 0 <= min_share <= 1:
        raise ValueError(f"min_share must be between 0 and 1 (got {min_share})")
    keep = palette.proportions >= min_share
    keep[int(np.argmax(palette.proportions))] = True
    return _rebuilt(palette, palette.colors[keep], palette.proportions[keep], same_colors=bool(keep.all()))


def clean_palette(
    palette: Palette, *, merge: float | None = None, min_share: float = 0.0, sort: str = "share"
) -> Palette:
    """Apply `merge_similar` (when `merge` is given), then `drop_small`, then `sort_palette`."""
    if merge is not None:
        palette = merge_similar(palette, merge)
    if min_share > 0:
        palette = drop_small(palette, min_share)
    return sort_palette(palette, sort)


def ignore_mask(
    pixels: UInt8Array,
    colors: Sequence[Sequence[int]] | UInt8Array,
    tolerance: float = IGNORE_TOLERANCE,
) -> npt.NDArray[np.bool_]:
    """Return True for each pixel within `tolerance` of any of `colors`.

    Parameters
    ----------
    pixels : ndarray of shape (N, 3), uint8
        sRGB pixels. Not modified.
    colors : array_like of shape (m, 3)
        sRGB colours to leave out, e.g. ``[(255, 255, 255)]`` for a white background.
    tolerance : float
        Largest CIELAB Euclidean distance (ΔE76, L in 0-100) still counted as a match;
        0 matches the exact colour only. ΔE76 is used (not CIEDE2000) because it is a
        plain distance, cheap on millions of pixels.

    Returns
    -------
    ndarray of shape (N,), bool
    """
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.shape[1] != 3:
        raise ValueError(f"pixels must have shape (N, 3) (got {pixels.shape})")
    targets = lab_from_srgb(np.asarray(colors, dtype=np.uint8).reshape(-1, 3))
    if len(pixels) == 0 or len(targets) == 0:
        return np.zeros(len(pixels), dtype=bool)
    # Each distinct colour is converted once: photos have far fewer colours than pixels.
    packed = pixels.astype(np.uint32) @ np.array([1 << 16, 1 << 8, 1], dtype=np.uint32)
    unique, inverse = np.unique(packed, return_inverse=True)
    rgb = np.stack([(unique >> 16) & 255, (unique >> 8) & 255, unique & 255], axis=1).astype(
        np.uint8
    )
    lab = lab_from_srgb(rgb)
    near = np.zeros(len(unique), dtype=bool)
    for target in targets:
        near |= np.sum((lab - target) ** 2, axis=1) <= tolerance**2
    return near[inverse.reshape(-1)]


def hide_colors(
    image: UInt8Array,
    colors: Sequence[Sequence[int]] | UInt8Array,
    tolerance: float = IGNORE_TOLERANCE,
) -> UInt8Array:
    """Return an (H, W, 4) copy of `image` whose pixels near `colors` have alpha 0.

    `image` is (H, W, 3) or (H, W, 4) uint8 and is not modified; see `ignore_mask`.
    """
    if image.ndim != 3 or image.shape[-1] not in (3, 4):
        raise ValueError(f"image must have shape (H, W, 3) or (H, W, 4) (got {image.shape})")
    out = np.empty(image.shape[:2] + (4,), dtype=np.uint8)
    out[..., :3] = image[..., :3]
    out[..., 3] = image[..., 3] if image.shape[-1] == 4 else 255
    mask = ignore_mask(image[..., :3].reshape(-1, 3), colors, tolerance).reshape(image.shape[:2])
    out[mask, 3] = 0
    return out
