"""Floyd-Steinberg dithering by the one assignment rule (`chromapal.assign`).

The error is diffused in CIELAB, the space CIEDE2000 is defined in, and each pixel plus
the error it received is decided by the same measure as the flat picture: through its
8-bit colour and the rule's cell table while it lies inside the sRGB gamut, by least
CIEDE2000 to the palette outside it. The compiled kernel and its NumPy twin below
compute the same labels.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from ._types import FloatArray, UInt8Array
from .assign import _WHITE_C, _XYZ, KERNELS, Rule, _flat, labels_of_colors
from .colorspace import _RGB_TO_XYZ, SRGB8_TO_LINEAR, _decode_gamma, ciede2000

# Floyd-Steinberg weights: right, down-left, down, down-right.
_FS: Final = (7 / 16, 3 / 16, 5 / 16, 1 / 16)
_XYZ_INV: Final = np.ascontiguousarray(np.linalg.inv(_RGB_TO_XYZ).reshape(-1))
#: Linear values half way between consecutive 8-bit codes: a linear value's code is how many lie below it.
EDGES: Final = np.ascontiguousarray(_decode_gamma((np.arange(255) + 0.5) / 255.0))


def dither_labels(pixels: UInt8Array, rule: Rule, *, alpha_threshold: int = 128) -> UInt8Array:
    """Labels with Floyd-Steinberg error diffusion in CIELAB, decided by the same measure.

    Each pixel's CIELAB plus the error diffused to it is decided by the rule (through its
    8-bit colour) when it lies inside the sRGB gamut, else by least CIEDE2000 to the palette;
    its difference from that palette colour goes 7/16 right, 3/16 down-left, 5/16 down,
    1/16 down-right. Transparent pixels (alpha below `alpha_threshold`) pass nothing on.
    `pixels` is (H, W, 3|4). Diffusing in CIELAB keeps the dithered picture at least as
    close to the image, after a blur like viewing, as the Oklab diffusion it replaces
    (docs/benchmarks.md).
    """
    if pixels.ndim != 3:
        raise ValueError(f"pixels must have shape (H, W, 3) or (H, W, 4) (got {pixels.shape})")
    px, channels = _flat(pixels)
    h, w = px.shape[:2]
    pal_lab = np.ascontiguousarray(rule.lab)
    if KERNELS is not None:
        out = np.empty((h, w), np.uint8)
        KERNELS.dither(
            px, w, channels, int(alpha_threshold), rule.cells, rule.sub, pal_lab, SRGB8_TO_LINEAR, _XYZ, _WHITE_C,
            _XYZ_INV, EDGES, out,
        )
        return out
    return _dither_numpy(px, rule, alpha_threshold)


def _cbrt_halley(t: FloatArray) -> FloatArray:
    """The kernel's cube root (four Halley steps from a straight line), operation for operation."""
    y = 0.42 + 0.58 * t
    for _ in range(4):
        y3 = y * y * y
        y = y * (y3 + 2.0 * t) / (2.0 * y3 + t)
    return y


def _lab_like_kernel(rgb: UInt8Array) -> FloatArray:
    """CIELAB of uint8 colours ``(..., 3)`` computed as the dithering kernel does."""
    x, y, z = (SRGB8_TO_LINEAR[rgb[..., i]] for i in range(3))
    m, wh = _XYZ, _WHITE_C
    eps, slope = (6 / 29) ** 3, 1.0 / (3 * (6.0 / 29) * (6.0 / 29))
    t = [(x * m[3 * i] + y * m[3 * i + 1] + z * m[3 * i + 2]) / wh[i] for i in range(3)]
    f = [np.where(ti > eps, _cbrt_halley(np.maximum(ti, eps)), ti * slope + 4.0 / 29) for ti in t]
    return np.stack([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])], axis=-1)


def _dither_numpy(px: UInt8Array, rule: Rule, alpha_threshold: int) -> UInt8Array:
    """The kernel's twin: pixels on one anti-diagonal (``x + 2y`` constant) in one step.

    Their errors do not depend on each other; the error waiting for a row never spans
    more than 4 columns, so it lives in a ring of shape (H + 1, 4, 3). The additions
    into each pixel's error happen in scan-line order, as in the kernel.
    """
    h, w = px.shape[:2]
    base = _lab_like_kernel(px[..., :3])
    pal = rule.lab
    opaque = px[..., 3] >= alpha_threshold if px.shape[2] == 4 else None
    err = np.zeros((h + 1, 4, 3))
    labels = np.empty((h, w), dtype=np.uint8)
    right, down_left, down, down_right = _FS
    d6, slope, wh, mi = 6.0 / 29, 3 * (6.0 / 29) * (6.0 / 29), _WHITE_C, _XYZ_INV
    for t in range(w + 2 * (h - 1)):
        ys = np.arange(max(0, (t - w + 2) // 2), min(h - 1, t // 2) + 1)
        xs = t - 2 * ys
        slot = xs & 3
        v = base[ys, xs] + err[ys, slot]
        err[ys, slot] = 0.0
        fy = (v[:, 0] + 16) / 116
        f = (fy + v[:, 1] / 500, fy, fy - v[:, 2] / 200)
        xyz = [np.where(fi > d6, fi * fi * fi, slope * (fi - 4.0 / 29)) * wh[i] for i, fi in enumerate(f)]
        rgb = np.stack([xyz[0] * mi[3 * j] + xyz[1] * mi[3 * j + 1] + xyz[2] * mi[3 * j + 2] for j in range(3)], 1)
        inside = ((rgb >= 0.0) & (rgb <= 1.0)).all(axis=1)
        idx = np.zeros(len(ys), np.intp)
        if inside.any():
            codes = np.searchsorted(EDGES, rgb[inside], side="left").astype(np.uint8)
            idx[inside] = labels_of_colors(codes, rule)
        if (~inside).any():
            de = np.stack([ciede2000(v[~inside], c) for c in pal], axis=1)
            idx[~inside] = np.argmin(de, axis=1)
        labels[ys, xs] = idx
        e = v - pal[idx]
        if opaque is not None:
            e[~opaque[ys, xs]] = 0.0
        has_left = (xs >= 1)[:, None]
        err[ys + 1, (xs - 1) & 3] += np.where(has_left, down_left * e, 0.0)
        err[ys + 1, slot] += down * e
        err[ys + 1, (xs + 1) & 3] += down_right * e
        err[ys, (xs + 1) & 3] += right * e
    return labels
