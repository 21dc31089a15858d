"""A 16-colour terminal scheme from an image's palette, as pywal and colorz make them.

The palette gives the background tint, the cursor and, for each ANSI slot 1-6, the
nearest palette colour by hue, turned at most `HUE_TOLERANCE` degrees toward the slot's
hue (so a red slot stays red, even for an image without red). Everything is then
made readable by moving lightness only (in Oklab, hue kept, chroma reduced only to stay
inside sRGB) until the WCAG 2 contrast ratios hold on the final 8-bit colours:

* foreground on background: at least `FG_CONTRAST` (7:1, WCAG AAA);
* every ANSI colour and the cursor on the background: at least `ANSI_CONTRAST` (3:1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np

from ._types import FloatArray
from .colorspace import oklab_from_srgb, oklab_to_linear, oklab_to_srgb
from .palette import Palette, relative_luminance, to_hex

RGB = tuple[int, int, int]

FG_CONTRAST: Final = 7.0
ANSI_CONTRAST: Final = 3.0
#: ANSI names of slots 0-7; slots 8-15 are their bright variants.
ANSI_NAMES: Final = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
#: Oklab hue (degrees) of each chromatic slot: the hue of the sRGB primary or secondary.
SLOT_HUES: Final = {1: 29.2, 2: 142.5, 3: 109.8, 4: 264.1, 5: 328.4, 6: 194.8}
#: Largest hue difference (degrees) kept from the palette colour a slot is made from.
HUE_TOLERANCE: Final = 10.0
#: Oklab chroma: below CHROMATIC a palette colour is grey; ANSI colours get at least MIN_CHROMA.
CHROMATIC: Final = 0.03
MIN_CHROMA: Final = 0.11
_STEP: Final = 0.005  # Oklab L per contrast-fixing step
_VIVID_L: Final = 0.65  # Oklab L where every hue reaches MIN_CHROMA inside sRGB


@dataclass(frozen=True)
class Scheme:
    """Oklab lightness targets of one scheme kind (dark or light)."""

    background: float
    foreground: float
    ansi: tuple[float, float]  # range the chromatic slots' lightness is clamped into
    bright: float  # lightness added for the bright variants (negative: darker)
    greys: tuple[float, float, float, float]  # slots 0, 7, 8, 15


DARK: Final = Scheme(0.20, 0.93, (0.64, 0.78), 0.08, (0.50, 0.80, 0.60, 0.95))
LIGHT: Final = Scheme(0.97, 0.28, (0.45, 0.56), -0.05, (0.30, 0.58, 0.45, 0.62))


@dataclass(frozen=True)
class Theme:
    """A terminal colour scheme: background, foreground, cursor and the 16 ANSI colours (sRGB)."""

    background: RGB
    foreground: RGB
    cursor: RGB
    ansi: tuple[RGB, ...]  # 16 colours: 0-7 normal, 8-15 bright
    light: bool = False
    name: str = "chromapal"

    def __post_init__(self) -> None:
        if len(self.ansi) != 16:
            raise ValueError(f"a theme has 16 ANSI colours (got {len(self.ansi)})")

    def hex(self) -> dict[str, str]:
        """``{"background", "foreground", "cursor", "color0", ..., "color15"}`` as ``#rrggbb``."""
        out = {
            "background": to_hex(self.background),
            "foreground": to_hex(self.foreground),
            "cursor": to_hex(self.cursor),
        }
        out.update({f"color{i}": to_hex(c) for i, c in enumerate(self.ansi)})
        return out


def contrast_ratio(a: RGB, b: RGB) -> float:
    """WCAG 2 contrast ratio of two sRGB colours, 1 to 21."""
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def _lab(L: float, C: float, h: float) -> FloatArray:
    rad = np.radians(h)
    return np.array([L, C * np.cos(rad), C * np.sin(rad)])


def _in_gamut(L: float, C: float, h: float) -> RGB:
    """8-bit sRGB of OkLCh (L, C, h), reducing chroma (hue and lightness kept) to fit sRGB."""
    lo, hi = 0.0, C
    if not np.all(np.abs(oklab_to_linear(_lab(L, C, h)) - 0.5) <= 0.5):
        for _ in range(18):
            mid = (lo + hi) / 2
            if np.all(np.abs(oklab_to_linear(_lab(L, mid, h)) - 0.5) <= 0.5):
                lo = mid
            else:
                hi = mid
        C = lo
    r, g, b = oklab_to_srgb(_lab(L, C, h))
    return int(r), int(g), int(b)


def _max_chroma(L: float, h: float) -> float:
    """Largest Oklab chroma inside sRGB at lightness `L` and hue `h` (by bisection)."""
    lo, hi = 0.0, 0.4
    for _ in range(16):
        mid = (lo + hi) / 2
        if np.all(np.abs(oklab_to_linear(_lab(L, mid, h)) - 0.5) <= 0.5):
            lo = mid
        else:
            hi = mid
    return lo


def vivid_lightness(L: float, C: float, h: float) -> float:
    """`L` moved toward mid-lightness until sRGB holds the chroma min(`C`, `MIN_CHROMA`) at hue `h`.

    Very light blues or very dark yellows cannot be colourful; this keeps the slot's hue visible.
    """
    while _max_chroma(L, h) < min(C, MIN_CHROMA) and abs(L - _VIVID_L) > _STEP:
        L += _STEP if L < _VIVID_L else -_STEP
    return L


def readable(L: float, C: float, h: float, background: RGB, ratio: float, *, up: bool) -> RGB:
    """Return OkLCh (L, C, h) made lighter (`up`) or darker until it has `ratio` on `background`."""
    while 0.0 <= L <= 1.0:
        rgb = _in_gamut(L, C, h)
        if contrast_ratio(rgb, background) >= ratio:
            return rgb
        L += _STEP if up else -_STEP
    return (255, 255, 255) if up else (0, 0, 0)


def _lch(colors: np.ndarray) -> FloatArray:
    lab = oklab_from_srgb(colors).reshape(-1, 3)
    return np.stack(
        [
            lab[:, 0],
            np.hypot(lab[:, 1], lab[:, 2]),
            np.degrees(np.arctan2(lab[:, 2], lab[:, 1])) % 360,
        ],
        axis=1,
    )


def _hue_diff(h: FloatArray | float, target: float) -> FloatArray:
    return (np.asarray(h) - target + 180) % 360 - 180


def slot_color(lch: FloatArray, shares: FloatArray, target: float) -> tuple[float, float, float]:
    """Return the OkLCh of a slot: the palette colour nearest in hue, turned toward `target`.

    Without any chromatic colour (a grey image) the slot is `target` itself at `MIN_CHROMA`.
    """
    chromatic = lch[:, 1] >= CHROMATIC
    if not chromatic.any():
        return float(np.average(lch[:, 0], weights=shares)), MIN_CHROMA, target
    diff = np.abs(_hue_diff(lch[:, 2], target))
    # Nearest hue first; among near ties (within 5 degrees) the larger share.
    score = np.where(chromatic, np.round(diff / 5) - shares, np.inf)
    L, C, h = lch[int(np.argmin(score))]
    h = target + float(np.clip(_hue_diff(h, target), -HUE_TOLERANCE, HUE_TOLERANCE))
    return float(L), max(float(C), MIN_CHROMA), h % 360


def make_theme(palette: Palette, *, light: bool = False, name: str = "chromapal") -> Theme:
    """Derive a readable 16-colour terminal scheme from `palette` (see the module doc).

    Parameters
    ----------
    palette : Palette
        Any palette with at least one colour (one grey is enough).
    light : bool
        A light background with dark text instead of the default dark scheme.
    name : str
        Scheme name written into the target files.

    Raises
    ------
    ValueError
        If `palette` is empty.
    """
    if len(palette) == 0:
        raise ValueError("cannot make a theme from an empty palette")
    scheme, up = (LIGHT, False) if light else (DARK, True)
    lch = _lch(palette.colors)
    shares = np.asarray(palette.proportions, dtype=np.float64)
    _, tint_c, tint_h = lch[int(np.argmax(shares))]
    background = _in_gamut(scheme.background, min(tint_c, 0.03), tint_h)
    foreground = readable(
        scheme.foreground, min(tint_c, 0.02), tint_h, background, FG_CONTRAST, up=up
    )
    ansi: list[RGB] = [(0, 0, 0)] * 16
    for slot, L_grey in zip((0, 7, 8, 15), scheme.greys, strict=True):
        ansi[slot] = readable(L_grey, min(tint_c, 0.02), tint_h, background, ANSI_CONTRAST, up=up)
    lo, hi = scheme.ansi
    for slot, target in SLOT_HUES.items():
        L, C, h = slot_color(lch, shares, target)
        L = float(np.clip(L, lo, hi))
        ansi[slot] = readable(vivid_lightness(L, C, h), C, h, background, ANSI_CONTRAST, up=up)
        L_bright = vivid_lightness(L + scheme.bright, C * 1.1, h)
        ansi[slot + 8] = readable(L_bright, C * 1.1, h, background, ANSI_CONTRAST, up=up)
    best = int(np.argmax(np.where(lch[:, 1] >= CHROMATIC, lch[:, 1], -1)))
    cursor = (
        readable(
            float(np.clip(lch[best, 0], lo, hi)),
            lch[best, 1],
            lch[best, 2],
            background,
            ANSI_CONTRAST,
            up=up,
        )
        if lch[best, 1] >= CHROMATIC
        else foreground
    )
    return Theme(background, foreground, cursor, tuple(ansi), light=light, name=name)
