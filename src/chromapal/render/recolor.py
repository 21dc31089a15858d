"""Recolouring: each pixel replaced by its nearest palette colour ("flattening"), or dithered.

Nearest means nearest in the palette's clustering space (``palette.space``, Oklab by
default), the space the palette was found in. Memory stays bounded for any image size:
the nearest colour is computed once per *distinct* colour present, in blocks, and pixels
are then mapped through a 2**24-entry look-up table; no pixels-by-colours matrix is built.
"""

from __future__ import annotations

from typing import Final

import numpy as np
from PIL import Image

from .._types import FloatArray, UInt8Array
from ..cluster import nearest
from ..colorspace import SPACES, canonical_space
from ..load import MAX_PIXELS, Source, load_image
from ..palette import Palette
from ..pipeline import extract

#: Pixels converted per step when building keys (bounds temporary arrays to a few MB).
CHUNK_PIXELS: Final = 1 << 20
#: Size of one block of the colour table scanned for present colours.
TABLE_BLOCK: Final = 1 << 20
#: Upper bound on distances held at once (colours x palette size).
DISTANCES: Final = 1 << 22
# Floyd-Steinberg weights: right, down-left, down, down-right.
_FS: Final = (7 / 16, 3 / 16, 5 / 16, 1 / 16)


def _keys(rgb: UInt8Array) -> np.ndarray:
    """(..., 3) uint8 -> (...) int32 keys ``r << 16 | g << 8 | b``."""
    key = rgb[..., 0].astype(np.int32) << 16
    key |= rgb[..., 1].astype(np.int32) << 8
    key |= rgb[..., 2]
    return key


def _unkey(keys: np.ndarray) -> UInt8Array:
    return np.stack([(keys >> 16) & 255, (keys >> 8) & 255, keys & 255], axis=-1).astype(np.uint8)


def _centers(palette: Palette, space: str | None) -> tuple[FloatArray, str]:
    if len(palette) == 0:
        raise ValueError("the palette has no colours; expected at least one")
    if len(palette) > 256:
        raise ValueError(
            f"a palette of {len(palette)} colours cannot index an image; the limit is 256"
        )
    name = canonical_space(space or palette.space)
    return SPACES[name][0](palette.colors), name


def nearest_indices(
    pixels: UInt8Array, palette: Palette, *, space: str | None = None
) -> UInt8Array:
    """Index into `palette` of the nearest colour for each pixel, shape (H, W), uint8.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3) or (H, W, 4), uint8
        sRGB(A) image; alpha is ignored here. Not modified.
    palette : Palette
        At most 256 colours.
    space : str, optional
        Distance space; ``palette.space`` by default.
    """
    centers, name = _centers(palette, space)
    to_space = SPACES[name][0]
    h, w = pixels.shape[:2]
    rows = max(1, CHUNK_PIXELS // w)
    present = np.zeros(1 << 24, dtype=bool)
    for y in range(0, h, rows):
        present[_keys(pixels[y : y + rows, :, :3])] = True
    table = np.zeros(1 << 24, dtype=np.uint8)
    step = max(1, DISTANCES // len(centers))
    for start in range(0, 1 << 24, TABLE_BLOCK):
        found = np.flatnonzero(present[start : start + TABLE_BLOCK]) + start
        for i in range(0, len(found), step):
            keys = found[i : i + step]
            table[keys] = nearest(to_space(_unkey(keys)), centers)[0]
    labels = np.empty((h, w), dtype=np.uint8)
    for y in range(0, h, rows):
        labels[y : y + rows] = table[_keys(pixels[y : y + rows, :, :3])]
    return labels


def dithered_indices(
    pixels: UInt8Array, palette: Palette, *, space: str | None = None, alpha_threshold: int = 128
) -> UInt8Array:
    """Like `nearest_indices`, with Floyd-Steinberg error diffusion in the palette's space.

    Pixels on one anti-diagonal wavefront (``x + 2y`` constant) do not depend on each
    other, so each wavefront is one vectorised step; the error still waiting for a row
    never spans more than 4 columns, so it lives in a ring of shape (H, 4, 3).
    Transparent pixels (alpha below `alpha_threshold`) pass no error on.
    """
    centers, name = _centers(palette, space)
    to_space = SPACES[name][0]
    h, w = pixels.shape[:2]
    rgb = pixels[..., :3]
    opaque = pixels[..., 3] >= alpha_threshold if pixels.shape[2] == 4 else None
    err = np.zeros((h + 1, 4, 3))
    labels = np.empty((h, w), dtype=np.uint8)
    right, down_left, down, down_right = _FS
    for t in range(w + 2 * (h - 1)):
        ys = np.arange(max(0, (t - w + 2) // 2), min(h - 1, t // 2) + 1)
        xs = t - 2 * ys
        slot = xs & 3
        value = to_space(rgb[ys, xs]) + err[ys, slot]
        err[ys, slot] = 0.0
        idx = nearest(value, centers)[0]
        labels[ys, xs] = idx
        e = value - centers[idx]
        if opaque is not None:
            e[~opaque[ys, xs]] = 0.0
        has_left = (xs >= 1)[:, None]  # no neighbour below-left at x = 0
        err[ys + 1, (xs - 1) & 3] += down_left * has_left * e
        err[ys + 1, slot] += down * e
        err[ys + 1, (xs + 1) & 3] += down_right * e
        err[ys, (xs + 1) & 3] += right * e  # last: a scan-line pass adds it after the row above's
    return labels


def indexed_image(
    labels: UInt8Array, palette: Palette, alpha: UInt8Array | None = None
) -> Image.Image:
    """Build the recoloured picture from `labels` (H, W) into `palette`.

    Returns a palette-mode ("P") image when the alpha (H, W) is absent or only 0 and 255
    (fully transparent pixels then share one extra, transparent palette entry), otherwise
    an RGBA image carrying the original alpha.
    """
    colors = palette.colors
    binary = alpha is None or not np.any((alpha != 0) & (alpha != 255))
    if alpha is not None and (not binary or len(colors) >= 256):
        return Image.fromarray(np.dstack([colors[labels], alpha]))
    lut = colors
    if alpha is not None and np.any(alpha == 0):
        clear = len(colors)
        labels = np.where(alpha == 0, np.uint8(clear), labels)
        lut = np.vstack([colors, [[255, 255, 255]]]).astype(np.uint8)
        image = _as_p(labels, lut)
        image.info["transparency"] = clear
        return image
    return _as_p(labels, lut)


def _as_p(labels: UInt8Array, lut: UInt8Array) -> Image.Image:
    image = Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint8))  # mode "L" ...
    image.putpalette(lut.astype(np.uint8).tobytes(), rawmode="RGB")  # ... becomes "P"
    return image


def recolor_pixels(
    pixels: UInt8Array,
    palette: Palette,
    *,
    dither: bool = False,
    space: str | None = None,
    alpha_threshold: int = 128,
) -> Image.Image:
    """Recolour decoded (H, W, 3|4) uint8 pixels with `palette`; see `chromapal.recolor`."""
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
        raise ValueError(f"pixels must have shape (H, W, 3) or (H, W, 4) (got {pixels.shape})")
    if dither:
        labels = dithered_indices(pixels, palette, space=space, alpha_threshold=alpha_threshold)
    else:
        labels = nearest_indices(pixels, palette, space=space)
    alpha = pixels[..., 3] if pixels.shape[2] == 4 and np.any(pixels[..., 3] != 255) else None
    return indexed_image(labels, palette, alpha)


def recolor(
    source: Source,
    palette: Palette | None = None,
    *,
    k: int = 8,
    dither: bool = False,
    space: str | None = None,
    seed: int = 0,
    init: str = "median-cut",
    alpha_threshold: int = 128,
    max_pixels: int = MAX_PIXELS,
) -> Image.Image:
    """Redraw an image with every pixel replaced by its nearest palette colour.

    Parameters
    ----------
    source : path, URL, bytes, binary file, PIL image or ndarray
        The image, as `chromapal.extract` takes it. It is recoloured at full resolution,
        upright (EXIF orientation applied).
    palette : Palette, optional
        Colours to use (at most 256); by default the image's own `k`-colour palette.
    k, seed, alpha_threshold, max_pixels
        As for `chromapal.extract`, when the palette is extracted here.
    dither : bool
        Floyd-Steinberg error diffusion instead of plain nearest colours.
    space : str, optional
        Space in which "nearest" is measured; ``palette.space`` by default (Oklab
        for extracted palettes).

    Returns
    -------
    PIL.Image.Image
        Palette mode ("P", an indexed image whose palette is `palette`) when the image is
        opaque or its pixels are fully opaque or fully transparent (these share one extra,
        transparent entry); RGBA with the original alpha when it has partial transparency.
    """
    if hasattr(source, "read"):
        source = source.read()  # type: ignore[union-attr]  # read twice below
    if palette is None:
        palette = extract(
            source,
            k,
            space=space or "oklab",
            seed=seed,
            init=init,
            alpha_threshold=alpha_threshold,
            max_pixels=max_pixels,
        )
    pixels = load_image(source, max_pixels=max_pixels, draft_above=None, upright=True).pixels
    return recolor_pixels(
        pixels, palette, dither=dither, space=space, alpha_threshold=alpha_threshold
    )
