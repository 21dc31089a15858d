"""A terminal theme's background: the image's darkest (or lightest) dominant colour, made readable.

The background is the palette colour with at least `DOMINANT_SHARE` of the pixels that
is darkest (lightest for light schemes). It is kept as it is when the readability rules
allow, and otherwise moved in lightness only as far as they need, hue and chroma kept
(chroma reduced only to stay inside sRGB): the nearest readable colour. Each kind of
scheme has a luminance window the rules allow:

* dark (default): at most `WALLPAPER_BG_MAX`, the largest luminance at which colours
  with 4.5:1 on the background still leave white (colour 15) 3:1 on red and blue
  (`WALLPAPER_WHITE_CONTRAST`), L* 18.1;
* dark ``strict``: at most `DARK_BG_MAX` (L* 1.1), where white keeps 4.5:1 on red and
  blue: black with a tint, its chroma times `BG_CHROMA_GAIN` so that hue still shows;
* light: at least `LIGHT_BG_MIN` (L* 99.2): colour-0 text on colours that have 4.5:1 on
  the background needs 20.25:1 between background and colour 0.

What gives way: the backgrounds of two images are as far apart as their darkest
dominant colours unless the window moved one of them. Moved colours lose the lightness
they had beyond the window, so two images whose darkest dominant colours differ mostly
in lightness beyond it can get backgrounds closer than CIEDE2000 3: readability (white
labels at 3:1, or the strict and light rules) comes before distinct backgrounds.
Keeping some of that lightness instead (compressing the lightness beyond a knee into the
window), or more chroma for darkened colours, was measured and gave as many such pairs or
more over the shared test images (benchmarks/bench_theme_backgrounds.py).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from ._types import FloatArray
from .theme_fit import MARGIN, RGB, fit_or_extreme, lch, luminance

__all__ = ["background_source", "dark_background", "light_background", "white_max_background"]

#: A palette colour with this share of the pixels or more is "dominant".
DOMINANT_SHARE: Final = 0.05
TEXT_CONTRAST: Final = 4.5
#: The least contrast white text on colours 1 and 4 keeps on a dark background (default).
WALLPAPER_WHITE_CONTRAST: Final = 3.0
#: Room for 8-bit colours between the two bounds on colours 1 and 4 (see `white_contrast`).
WHITE_SLACK: Final = 1.03


def white_max_background(white: float) -> float:
    """Largest background luminance that leaves white `white`:1 on colours with 4.5:1 on it.

    Colours 1 and 4 need luminance at least ``(yb + 0.05) * 4.5`` (less 0.05) on a
    background of luminance ``yb``; white on them is then at most ``1.05 / that``. Both
    bounds carry `MARGIN`, and white's `WHITE_SLACK` leaves room between them.
    """
    return 1.05 / (white * WHITE_SLACK * TEXT_CONTRAST * MARGIN) - 0.05


#: Dark backgrounds (default): the largest luminance, 0.0254 (L* 18.1).
WALLPAPER_BG_MAX: Final = white_max_background(WALLPAPER_WHITE_CONTRAST)
#: Dark backgrounds with ``strict`` (white at 4.5:1): the largest luminance, and the chroma gain.
DARK_BG_MAX: Final = 0.0012
BG_CHROMA_GAIN: Final = 3.0
#: Light backgrounds: the least luminance, and colour 0's largest.
LIGHT_BG_MIN: Final = 0.98
LIGHT_BLACK_MAX: Final = 0.0003


def background_source(lch_: FloatArray, shares: FloatArray, *, light: bool) -> int:
    """Index of the image's darkest (or lightest) dominant palette colour.

    Parameters
    ----------
    lch_ : ndarray of shape (n, 3)
        The palette's OkLCh colours.
    shares : ndarray of shape (n,)
        Each colour's share of the pixels.
    light : bool
        The lightest dominant colour instead of the darkest.
    """
    dominant = shares >= min(DOMINANT_SHARE, float(shares.max()))
    lightness = np.where(dominant, lch_[:, 0], np.nan)
    return int(np.nanargmax(lightness) if light else np.nanargmin(lightness))


def dark_background(color: RGB, *, strict: bool = False) -> RGB:
    """The dark background for the 8-bit colour `color`: kept if dark enough, else darkened.

    Default: `color` itself when its luminance is at most `WALLPAPER_BG_MAX`, else the
    8-bit colour nearest it (lightness moved, hue and chroma kept) at most that.
    ``strict``: at most `DARK_BG_MAX`, the chroma times `BG_CHROMA_GAIN` (inside sRGB).
    """
    L, C, h = (float(v) for v in lch(np.array(color, np.uint8))[0])
    if strict:
        return fit_or_extreme((L, C * BG_CHROMA_GAIN, h), 0.0, DARK_BG_MAX)
    if luminance(color) <= WALLPAPER_BG_MAX:
        return color
    return fit_or_extreme((L, C, h), 0.0, WALLPAPER_BG_MAX)


def light_background(color: RGB) -> RGB:
    """The light background for the 8-bit colour `color`: luminance at least `LIGHT_BG_MIN`."""
    if luminance(color) >= LIGHT_BG_MIN:
        return color
    L, C, h = (float(v) for v in lch(np.array(color, np.uint8))[0])
    return fit_or_extreme((L, C, h), LIGHT_BG_MIN, 1.0)
