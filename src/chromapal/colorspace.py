"""Colour-space conversions: uint8 sRGB at the edges, float64 perceptual coordinates between.

Conventions
-----------
* sRGB is uint8 ``(..., 3)`` at the edges; float sRGB in ``[0, 255]`` is accepted by the
  ``*_from_srgb`` functions so that bin means (averages of many pixels) keep their precision.
* Oklab follows Björn Ottosson's definition (L in [0, 1]).
* CIELAB uses D65 and the white of the sRGB matrix (L in [0, 100]).
* The "srgb" clustering space is plain sRGB scaled to [0, 1].
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from ._types import FloatArray, UInt8Array

# Linear sRGB -> LMS and LMS' -> Oklab (Ottosson 2020).
_RGB_TO_LMS: Final = np.array(
    [
        [0.4122214708, 0.5363325363, 0.0514459929],
        [0.2119034982, 0.6806995451, 0.1073969566],
        [0.0883024619, 0.2817188376, 0.6299787005],
    ]
)
_LMS_TO_OKLAB: Final = np.array(
    [
        [0.2104542553, 0.7936177850, -0.0040720468],
        [1.9779984951, -2.4285922050, 0.4505937099],
        [0.0259040371, 0.7827717662, -0.8086757660],
    ]
)
_OKLAB_TO_LMS: Final = np.linalg.inv(_LMS_TO_OKLAB)
_LMS_TO_RGB: Final = np.linalg.inv(_RGB_TO_LMS)

# Linear sRGB -> CIE XYZ (IEC 61966-2-1, D65); the white is the matrix's own row sums.
_RGB_TO_XYZ: Final = np.array(
    [
        [0.4124564, 0.3575761, 0.1804375],
        [0.2126729, 0.7151522, 0.0721750],
        [0.0193339, 0.1191920, 0.9503041],
    ]
)
_XYZ_TO_RGB: Final = np.linalg.inv(_RGB_TO_XYZ)
_WHITE: Final = _RGB_TO_XYZ.sum(axis=1)
_EPS: Final = (6 / 29) ** 3


def _decode_gamma(c: FloatArray) -> FloatArray:
    """Encoded sRGB in [0, 1] -> linear light."""
    return np.where(c <= 0.04045, c / 12.92, ((np.maximum(c, 0.04045) + 0.055) / 1.055) ** 2.4)


def _encode_gamma(c: FloatArray) -> FloatArray:
    """Linear light -> encoded sRGB in [0, 1] (out-of-gamut values are clipped first)."""
    c = np.clip(c, 0.0, 1.0)
    return np.where(c <= 0.0031308, c * 12.92, 1.055 * np.maximum(c, 0.0031308) ** (1 / 2.4) - 0.055)


# Linear value of each 8-bit code: conversions of uint8 input are table look-ups.
SRGB8_TO_LINEAR: Final = _decode_gamma(np.arange(256) / 255.0)


#: Float inputs of this many values (histograms, up to 32,768 rows) have their linear values
#: kept for the next call: a palette converts the same histogram to CIELAB and to Oklab (and
#: its coarse one too). Smaller ones are cheap, larger ones (images) not worth holding.
_MEMO_SIZES: Final = range(3 * 1024, 3 * 32768 + 1)
_memo: list[tuple[FloatArray, FloatArray]] = []  # (input copy, result), the two latest


def srgb_to_linear(rgb: ArrayLike) -> FloatArray:
    """Return linear-light RGB in [0, 1] for sRGB values in [0, 255] (uint8 or float)."""
    arr = np.asarray(rgb)
    if arr.dtype == np.uint8:
        return SRGB8_TO_LINEAR[arr]
    if arr.size not in _MEMO_SIZES:
        return _decode_gamma(arr.astype(np.float64) / 255.0)
    for seen, linear in list(_memo):  # a copy of the list: other threads may change it
        if seen.shape == arr.shape and np.array_equal(seen, arr):
            return linear.copy()
    linear = _decode_gamma(arr.astype(np.float64) / 255.0)
    _memo[:] = [(np.array(arr, dtype=np.float64), linear.copy()), *_memo[:1]]
    return linear


def linear_to_srgb8(linear: ArrayLike) -> UInt8Array:
    """Return uint8 sRGB for linear-light RGB; out-of-gamut values are clipped."""
    enc = _encode_gamma(np.asarray(linear, dtype=np.float64))
    return np.rint(enc * 255.0).astype(np.uint8)


def oklab_from_srgb(rgb: ArrayLike) -> FloatArray:
    """Convert sRGB ``(..., 3)`` in [0, 255] to Oklab ``(..., 3)``."""
    lms = srgb_to_linear(rgb) @ _RGB_TO_LMS.T
    return np.cbrt(lms) @ _LMS_TO_OKLAB.T


def oklab_to_linear(lab: ArrayLike) -> FloatArray:
    """Convert Oklab ``(..., 3)`` to linear-light sRGB (not clipped)."""
    lms = (np.asarray(lab, dtype=np.float64) @ _OKLAB_TO_LMS.T) ** 3
    return lms @ _LMS_TO_RGB.T


def oklab_to_srgb(lab: ArrayLike) -> UInt8Array:
    """Convert Oklab ``(..., 3)`` to uint8 sRGB, clipping out-of-gamut colours."""
    return linear_to_srgb8(oklab_to_linear(lab))


def _lab_f(t: FloatArray) -> FloatArray:
    return np.where(t > _EPS, np.cbrt(t), t / (3 * (6 / 29) ** 2) + 4 / 29)


def _lab_finv(t: FloatArray) -> FloatArray:
    return np.where(t > 6 / 29, t**3, 3 * (6 / 29) ** 2 * (t - 4 / 29))


def lab_from_srgb(rgb: ArrayLike) -> FloatArray:
    """Convert sRGB ``(..., 3)`` in [0, 255] to CIELAB (D65) ``(..., 3)``."""
    return lab_from_linear(srgb_to_linear(rgb))


def lab_from_linear(linear: ArrayLike) -> FloatArray:
    """Convert linear-light sRGB ``(..., 3)`` to CIELAB (D65)."""
    f = _lab_f((np.asarray(linear, dtype=np.float64) @ _RGB_TO_XYZ.T) / _WHITE)
    fx, fy, fz = f[..., 0], f[..., 1], f[..., 2]
    return np.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], axis=-1)


def lab_to_linear(lab: ArrayLike) -> FloatArray:
    """Convert CIELAB (D65) ``(..., 3)`` to linear-light sRGB (not clipped)."""
    lab = np.asarray(lab, dtype=np.float64)
    fy = (lab[..., 0] + 16) / 116
    f = np.stack([fy + lab[..., 1] / 500, fy, fy - lab[..., 2] / 200], axis=-1)
    return (_lab_finv(f) * _WHITE) @ _XYZ_TO_RGB.T


def lab_to_srgb(lab: ArrayLike) -> UInt8Array:
    """Convert CIELAB (D65) ``(..., 3)`` to uint8 sRGB, clipping out-of-gamut colours."""
    return linear_to_srgb8(lab_to_linear(lab))


def unit_from_srgb(rgb: ArrayLike) -> FloatArray:
    """SRGB in [0, 255] -> sRGB in [0, 1] (the "srgb" clustering space)."""
    return np.asarray(rgb, dtype=np.float64) / 255.0


def unit_to_linear(rgb: ArrayLike) -> FloatArray:
    """SRGB in [0, 1] -> linear light."""
    return _decode_gamma(np.clip(np.asarray(rgb, dtype=np.float64), 0, 1))


def unit_to_srgb(rgb: ArrayLike) -> UInt8Array:
    """SRGB in [0, 1] -> uint8 sRGB, clipped."""
    return np.rint(np.clip(np.asarray(rgb, dtype=np.float64), 0, 1) * 255).astype(np.uint8)


#: Clustering spaces: name -> (from sRGB, to uint8 sRGB).
SPACES: Final[dict[str, tuple[Callable[[ArrayLike], FloatArray], Callable[[ArrayLike], UInt8Array]]]] = {
    "oklab": (oklab_from_srgb, oklab_to_srgb),
    "cielab": (lab_from_srgb, lab_to_srgb),
    "srgb": (unit_from_srgb, unit_to_srgb),
}
#: Clustering spaces: name -> to linear-light sRGB (unclipped), for exact conversions of centres.
SPACE_TO_LINEAR: Final[dict[str, Callable[[ArrayLike], FloatArray]]] = {
    "oklab": oklab_to_linear,
    "cielab": lab_to_linear,
    "srgb": unit_to_linear,
}
SPACE_ALIASES: Final = {"lab": "cielab", "rgb": "srgb", "ok": "oklab"}


def canonical_space(name: str) -> str:
    """Return the registered name for `name` (case-insensitive, aliases allowed).

    Raises
    ------
    ValueError
        If `name` is not a known clustering space.
    """
    key = SPACE_ALIASES.get(name.lower(), name.lower())
    if key not in SPACES:
        raise ValueError(f"unknown colour space {name!r}; expected one of {', '.join(SPACES)}")
    return key


def ciede2000(lab1: ArrayLike, lab2: ArrayLike) -> FloatArray:
    """CIEDE2000 colour difference between CIELAB arrays (broadcasting, ``(..., 3)``).

    After Sharma, Wu & Dalal (2005), with kL = kC = kH = 1.
    """
    lab1 = np.asarray(lab1, dtype=np.float64)
    lab2 = np.asarray(lab2, dtype=np.float64)
    L1, a1, b1 = lab1[..., 0], lab1[..., 1], lab1[..., 2]
    L2, a2, b2 = lab2[..., 0], lab2[..., 1], lab2[..., 2]
    c_bar = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    c7 = c_bar**7
    g = 0.5 * (1 - np.sqrt(c7 / (c7 + 25.0**7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = np.hypot(a1p, b1), np.hypot(a2p, b2)
    h1p = np.degrees(np.arctan2(b1, a1p)) % 360
    h2p = np.degrees(np.arctan2(b2, a2p)) % 360
    dL = L2 - L1
    dC = c2p - c1p
    dh = h2p - h1p
    dh = np.where(dh > 180, dh - 360, np.where(dh < -180, dh + 360, dh))
    dh = np.where(c1p * c2p == 0, 0.0, dh)
    dH = 2 * np.sqrt(c1p * c2p) * np.sin(np.radians(dh) / 2)
    L_bar = (L1 + L2) / 2
    cp_bar = (c1p + c2p) / 2
    hsum = h1p + h2p
    h_bar = np.where(
        np.abs(h1p - h2p) > 180, np.where(hsum < 360, hsum + 360, hsum - 360), hsum
    ) / 2
    h_bar = np.where(c1p * c2p == 0, hsum, h_bar)
    t = (
        1
        - 0.17 * np.cos(np.radians(h_bar - 30))
        + 0.24 * np.cos(np.radians(2 * h_bar))
        + 0.32 * np.cos(np.radians(3 * h_bar + 6))
        - 0.20 * np.cos(np.radians(4 * h_bar - 63))
    )
    d_theta = 30 * np.exp(-(((h_bar - 275) / 25) ** 2))
    cp7 = cp_bar**7
    r_c = 2 * np.sqrt(cp7 / (cp7 + 25.0**7))
    s_l = 1 + 0.015 * (L_bar - 50) ** 2 / np.sqrt(20 + (L_bar - 50) ** 2)
    s_c = 1 + 0.045 * cp_bar
    s_h = 1 + 0.015 * cp_bar * t
    r_t = -np.sin(np.radians(2 * d_theta)) * r_c
    return np.sqrt(
        (dL / s_l) ** 2 + (dC / s_c) ** 2 + (dH / s_h) ** 2 + r_t * (dC / s_c) * (dH / s_h)
    )
