"""Recolouring: each pixel replaced by its palette colour ("flattening"), or dithered.

Which palette colour a pixel gets is the one assignment rule of `chromapal.assign`
(least CIEDE2000 from the centre of the pixel's histogram cell; a palette colour keeps
its own pixels), the rule the palette's shares and ``delta_e`` are counted by: the
flattened image's pixel counts divided by its opaque pixel count are the shares.
The rule is decided once per cell and applied through a look-up table, so memory and
time stay bounded for any image size (a 24-megapixel photo in well under a second).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .._types import UInt8Array
from ..assign import flatten_labels, rule_for
from ..dither import dither_labels
from ..colorspace import canonical_space
from ..load import MAX_PIXELS, Source, load_image
from ..palette import Palette
from ..pipeline import extract


def _rule(palette: Palette, space: str | None):  # noqa: ANN202 - a Rule
    if len(palette) == 0:
        raise ValueError("the palette has no colours; expected at least one")
    if len(palette) > 256:
        raise ValueError(
            f"a palette of {len(palette)} colours cannot index an image; the limit is 256"
        )
    if space is not None:
        canonical_space(space)  # still checked: a misspelt space is an error, not ignored
    return rule_for(palette.colors)


def nearest_indices(
    pixels: UInt8Array, palette: Palette, *, space: str | None = None
) -> UInt8Array:
    """Index into `palette` of each pixel's colour under the assignment rule, shape (H, W), uint8.

    Parameters
    ----------
    pixels : ndarray of shape (H, W, 3) or (H, W, 4), uint8
        sRGB(A) image; alpha is ignored here. Not modified.
    palette : Palette
        At most 256 colours.
    space : str, optional
        Accepted for compatibility and checked; the rule measures CIEDE2000 whatever the
        palette's clustering space.
    """
    labels, _ = flatten_labels(pixels, _rule(palette, space), alpha_threshold=0)
    assert labels is not None
    return labels


def dithered_indices(
    pixels: UInt8Array, palette: Palette, *, space: str | None = None, alpha_threshold: int = 128
) -> UInt8Array:
    """Indices with Floyd-Steinberg error diffusion in Oklab (`chromapal.dither.dither_labels`).

    Each pixel plus the error diffused to it takes the nearest colour in Oklab (measured
    closer to the image than CIEDE2000 decisions, see `chromapal.dither`); transparent
    pixels (alpha below `alpha_threshold`) pass no error on.
    """
    _rule(palette, space)  # the same checks of the palette and the space
    return dither_labels(pixels, palette.colors, alpha_threshold=alpha_threshold)


def indexed_image(
    labels: UInt8Array,
    palette: Palette,
    alpha: UInt8Array | None = None,
    *,
    alpha_threshold: int = 128,
) -> Image.Image:
    """Build the recoloured picture from `labels` (H, W) into `palette`.

    Pixels whose alpha (H, W) is below `alpha_threshold` are transparent. The result is a
    palette-mode ("P") image when there is no alpha or it is only 0 and 255 (the transparent
    pixels then share one extra, transparent palette entry); otherwise (soft alpha) an RGBA
    image keeping the alpha of the pixels at or above the threshold and 0 below it.
    """
    colors = palette.colors
    if alpha is None:
        return _as_p(labels, colors)
    clear = alpha < alpha_threshold
    binary = not np.any((alpha != 0) & (alpha != 255))
    if not binary or len(colors) >= 256:
        out_alpha = np.where(clear, np.uint8(0), alpha if not binary else np.uint8(255)).astype(np.uint8)
        return Image.fromarray(np.dstack([colors[labels], out_alpha]))
    if not clear.any():
        return _as_p(labels, colors)
    index = len(colors)
    labels = np.where(clear, np.uint8(index), labels)
    image = _as_p(labels, np.vstack([colors, [[255, 255, 255]]]).astype(np.uint8))
    image.info["transparency"] = index
    return image


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
    return indexed_image(labels, palette, alpha, alpha_threshold=alpha_threshold)


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
    """Redraw an image with every pixel replaced by its palette colour (`chromapal.assign`).

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
        Floyd-Steinberg error diffusion instead of flat areas.
    space : str, optional
        Clustering space when the palette is extracted here (Oklab by default); which
        colour a pixel gets is decided by CIEDE2000 in any case.

    Returns
    -------
    PIL.Image.Image
        Palette mode ("P", an indexed image whose palette is `palette`) when the image is
        opaque or its pixels are fully opaque or fully transparent (these share one extra,
        transparent entry); RGBA with the original alpha when it has partial transparency.
        Pixels with alpha below `alpha_threshold` are transparent either way. Use
        `chromapal.assign.measure_palette` for the shares and error of exactly these pixels
        (a large JPEG's palette is found on a reduced decode, the picture is full size).
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
