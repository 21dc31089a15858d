"""Fitting theme colours: the 8-bit sRGB colour nearest an OkLCh target inside a luminance window.

Every readability rule of a theme is a WCAG 2 contrast ratio, and a contrast ratio
against a fixed colour is a bound on relative luminance. So each colour of a theme is
"the colour nearest to what the image suggests whose luminance lies in [lo, hi]": the
target is moved in Oklab lightness (hue kept, chroma reduced only to stay inside sRGB)
until its luminance is in the window, then the 8-bit colours around it are searched for
the nearest one (Oklab distance) that is in the window exactly, after rounding.
"""

from __future__ import annotations

import itertools
from typing import Final

import numpy as np

from ._types import FloatArray
from .colorspace import (
    SRGB8_TO_LINEAR,
    ciede2000,
    lab_from_srgb,
    linear_to_srgb8,
    oklab_from_srgb,
    oklab_to_linear,
)

RGB = tuple[int, int, int]

_LUMA: Final = np.array([0.2126, 0.7152, 0.0722])
#: Safety factor on every contrast ratio (the bounds are met with 0.1 % to spare).
MARGIN: Final = 1.001


def luminance(rgb: RGB | np.ndarray) -> float:
    """WCAG 2 relative luminance of an 8-bit sRGB colour."""
    return float(SRGB8_TO_LINEAR[np.asarray(rgb, dtype=np.intp)] @ _LUMA)


def contrast_ratio(a: RGB, b: RGB) -> float:
    """WCAG 2 contrast ratio of two sRGB colours, 1 to 21."""
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def darker_than(y: float, ratio: float) -> float:
    """Largest luminance with `ratio` (plus `MARGIN`) against a colour of luminance `y`."""
    return (y + 0.05) / (ratio * MARGIN) - 0.05


def lighter_than(y: float, ratio: float) -> float:
    """Smallest luminance with `ratio` (plus `MARGIN`) against a colour of luminance `y`."""
    return (y + 0.05) * ratio * MARGIN - 0.05


def delta_e(a: RGB, b: RGB) -> float:
    """CIEDE2000 difference of two sRGB colours."""
    return float(ciede2000(lab_from_srgb(np.array(a, np.uint8)), lab_from_srgb(np.array(b, np.uint8))))


def lch(colors: np.ndarray) -> FloatArray:
    """OkLCh ``(n, 3)`` (L, C, hue in degrees) of sRGB colours."""
    lab = oklab_from_srgb(np.asarray(colors)).reshape(-1, 3)
    return np.stack(
        [lab[:, 0], np.hypot(lab[:, 1], lab[:, 2]), np.degrees(np.arctan2(lab[:, 2], lab[:, 1])) % 360],
        axis=1,
    )


def _lab(L: FloatArray, C: FloatArray, h: float) -> FloatArray:
    rad = np.radians(h)
    return np.stack([L, C * np.cos(rad), C * np.sin(rad)], axis=-1)


def _inside(lab: FloatArray) -> np.ndarray:
    return np.all(np.abs(oklab_to_linear(lab) - 0.5) <= 0.5, axis=-1)


def gamut_chroma(L: FloatArray, C: float, h: float) -> FloatArray:
    """Chroma at each lightness `L` (array) and hue `h`: `C`, reduced to stay inside sRGB."""
    L = np.asarray(L, dtype=np.float64)
    lo, hi = np.zeros_like(L), np.full_like(L, C)
    ok = _inside(_lab(L, hi, h))
    for _ in range(20):
        mid = (lo + hi) / 2
        inside = _inside(_lab(L, mid, h))
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    return np.where(ok, C, lo)


_GRID: Final = np.linspace(0.0, 1.0, 401)
_OFFSETS: Final = {
    r: np.array(list(itertools.product(range(-r, r + 1), repeat=3))) for r in (2, 5, 10)
}


def fit(target: tuple[float, float, float], lo: float, hi: float) -> RGB | None:
    """The 8-bit colour nearest OkLCh `target` whose luminance lies in [`lo`, `hi`].

    Lightness moves first (to the nearest lightness whose luminance is in the window),
    then the neighbouring 8-bit colours are searched. None if no colour near it fits.
    """
    L0, C, h = target
    lo, hi = max(lo, 0.0), min(hi, 1.0)
    if lo > hi:
        return None
    chroma = gamut_chroma(_GRID, C, h)
    lab = _lab(_GRID, chroma, h)
    y = np.clip(oklab_to_linear(lab), 0, 1) @ _LUMA
    ok = (y >= lo) & (y <= hi)
    if ok.any():
        i = int(np.argmin(np.where(ok, np.abs(_GRID - L0), np.inf)))
    else:  # the window is narrower than one grid step: the nearest lightness to its middle
        i = int(np.argmin(np.abs(y - (lo + hi) / 2)))
    want = lab[i]
    start = linear_to_srgb8(oklab_to_linear(want)).astype(np.intp)
    for offsets in _OFFSETS.values():
        cand = np.unique(np.clip(start + offsets, 0, 255).astype(np.intp), axis=0)
        cy = SRGB8_TO_LINEAR[cand] @ _LUMA
        keep = (cy >= lo) & (cy <= hi)
        if keep.any():
            cand = cand[keep]
            dist = np.sum((oklab_from_srgb(cand.astype(np.uint8)) - want) ** 2, axis=1)
            r, g, b = (int(v) for v in cand[int(np.argmin(dist))])
            return r, g, b
    return None


def fit_or_extreme(target: tuple[float, float, float], lo: float, hi: float) -> RGB:
    """`fit`, or black or white (whichever is in the window, else nearer it) when nothing fits."""
    found = fit(target, lo, hi)
    if found is not None:
        return found
    return (0, 0, 0) if lo <= 0.0 or abs(lo) < abs(1 - hi) else (255, 255, 255)
