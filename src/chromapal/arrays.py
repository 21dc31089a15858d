"""NumPy arrays as images: the dtypes and shapes accepted, and their scaling to uint8.

The scaling is scikit-image's ``img_as_ubyte`` rule, so an array from skimage,
OpenCV (converted to RGB) or a float pipeline gives the colours those libraries show:

- uint8: used as it is;
- uint16: the high byte (``value // 256``);
- float16/32/64: values must lie in [-1, 1]; ``rint(value * 255)`` clipped to
  0..255 (negative values become 0, as in skimage), computed in float32 for float16
  and float32 input, in float64 for float64; NaN and infinities are refused.

Every other dtype (bool, signed integers, wider unsigned integers, complex, object)
is a ``TypeError`` naming it: an int64 array of 0..255 values is as likely as one
of full-range values, so guessing would give wrong colours silently. Shapes are
(H, W, 3) RGB, (H, W, 4) RGBA, and (H, W) or (H, W, 1) grey (repeated to RGB, as
Pillow's ``convert("RGB")`` does with an "L" image); anything else, or an empty
array, is a ``ValueError`` naming the shape.
"""

from __future__ import annotations

import numpy as np

from ._types import UInt8Array

_SHAPES = "(H, W, 3), (H, W, 4), (H, W) or (H, W, 1) with H, W > 0"


def as_image_array(arr: np.ndarray) -> UInt8Array:
    """Return `arr` as a C-contiguous (H, W, 3|4) uint8 image (see the module docstring).

    Raises
    ------
    TypeError
        If the dtype is not uint8, uint16 or a float type.
    ValueError
        If the shape is not an image's, the array is empty, or float values are
        NaN, infinite or outside [-1, 1].
    """
    shape = arr.shape
    if not (arr.ndim == 2 or (arr.ndim == 3 and shape[2] in (1, 3, 4))) or 0 in shape:
        raise ValueError(f"image arrays must have shape {_SHAPES} (got {shape})")
    kind = arr.dtype
    if kind == np.uint8:
        out = arr
    elif kind == np.uint16:
        out = (arr >> 8).astype(np.uint8)
    elif kind.kind == "f":
        out = _float_to_uint8(arr)
    else:
        raise TypeError(
            f"image arrays must be uint8, uint16 or float in [0, 1] (got {kind}); for "
            "values 0-255 in another integer type use arr.astype(np.uint8)"
        )
    if out.ndim == 2:
        out = out[:, :, None]
    if out.shape[2] == 1:
        out = np.repeat(out, 3, axis=2)
    return np.ascontiguousarray(out)


def _float_to_uint8(arr: np.ndarray) -> UInt8Array:
    work = arr.astype(np.float64 if arr.dtype == np.float64 else np.float32)
    if not np.isfinite(work).all():
        raise ValueError(f"image arrays of {arr.dtype} must not hold NaN or infinite values")
    low, high = float(work.min()), float(work.max())
    if low < -1.0 or high > 1.0:
        raise ValueError(
            f"image arrays of {arr.dtype} must hold values in [0, 1] (got {low:g} to {high:g}); "
            "for values 0-255 use arr.astype(np.uint8)"
        )
    work *= 255
    np.rint(work, out=work)
    np.clip(work, 0, 255, out=work)
    return work.astype(np.uint8)
