"""Load an image from a path, URL, bytes, file object, PIL image or array as uint8 sRGB.

Only this module (and the renderers) talk to Pillow's decoders. Every decoding
problem becomes an :class:`~chromapal.errors.UnreadableImageError` whose message
names the input and the cause, so front ends can print one line.
"""

from __future__ import annotations

import io
import os
import urllib.error
import urllib.request
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal, Union

import numpy as np
from PIL import Image, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

from ._types import UInt8Array
from .errors import ImageTooLargeError, SourceError, UnreadableImageError

#: Default pixel limit: Pillow's own decompression-bomb threshold.
MAX_PIXELS: Final = 89_478_485
#: URL fetches: seconds to wait for the server, bytes accepted at most.
URL_TIMEOUT: Final = 15.0
URL_MAX_BYTES: Final = 100 * 1024 * 1024
#: JPEGs above this many pixels are decoded at a reduced DCT scale (see `load_image`).
DRAFT_ABOVE: Final = 8_000_000

Source = Union[str, os.PathLike[str], bytes, bytearray, memoryview, IO[bytes], Image.Image, np.ndarray]
Frames = Literal["first", "all"]

_ALPHA_MODES: Final = {"RGBA", "LA", "PA", "La", "RGBa"}
_HIGH_BIT_MODES: Final = {"I", "I;16", "I;16L", "I;16B", "I;16N", "F"}

# A truncated file must be an error, never silently padded with grey.
ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass(frozen=True)
class LoadedImage:
    """Decoded pixels and a printable name for messages."""

    pixels: UInt8Array  # (H, W, 3) or (H, W, 4) uint8 sRGB(A)
    name: str
    scale: int = 1  # >1 when a JPEG was decoded at 1/scale with DCT scaling


def describe(source: object) -> str:
    """Return a short printable name for `source`, used in every message about it."""
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    if isinstance(source, Image.Image):
        return "<PIL image>"
    if isinstance(source, np.ndarray):
        return "<array>"
    name = getattr(source, "name", None)
    return str(name) if isinstance(name, str) else "<file>"


def is_url(source: object) -> bool:
    """Return True if `source` is a string naming an http(s) URL."""
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def fetch_url(url: str, *, timeout: float = URL_TIMEOUT, max_bytes: int = URL_MAX_BYTES) -> bytes:
    """Download `url` (http or https only) with a timeout and a size limit.

    Raises
    ------
    SourceError
        If the server cannot be reached, answers with an error status, takes
        longer than `timeout` or sends more than `max_bytes`.
    """
    request = urllib.request.Request(url, headers={"User-Agent": "chromapal"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > max_bytes:
                raise SourceError(f"{url}: {int(declared):,} bytes is over the {max_bytes:,}-byte limit")
            data = response.read(max_bytes + 1)
    except urllib.error.HTTPError as exc:
        raise SourceError(f"{url}: the server answered {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise SourceError(f"{url}: cannot be reached ({exc.reason})") from exc
    except TimeoutError as exc:
        raise SourceError(f"{url}: no answer within {timeout:g} s") from exc
    except (OSError, ValueError) as exc:
        raise SourceError(f"{url}: cannot be fetched ({exc})") from exc
    if len(data) > max_bytes:
        raise SourceError(f"{url}: more than the {max_bytes:,}-byte limit")
    return data


def open_image(source: Source, *, name: str | None = None) -> Image.Image:
    """Open `source` lazily with Pillow (header only); arrays are wrapped without decoding.

    Raises
    ------
    UnreadableImageError
        If the source is missing, a directory, or not an image Pillow can identify.
    TypeError
        If `source` is of no supported type.
    """
    name = name or describe(source)
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return Image.fromarray(_check_array(source))
    if is_url(source):
        source = fetch_url(str(source))
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise UnreadableImageError(f"{name}: empty input, not an image")
        fp: Any = io.BytesIO(bytes(source))
    elif isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            raise UnreadableImageError(f"{name}: is a directory, not an image")
        if not path.exists():
            raise UnreadableImageError(f"{name}: no such file")
        fp = path
    elif hasattr(source, "read"):
        fp = source
    else:
        raise TypeError(
            f"cannot load an image from {type(source).__name__}; expected a path, URL, bytes, "
            "binary file, PIL image or uint8 array"
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(fp)
    except UnidentifiedImageError as exc:
        raise UnreadableImageError(f"{name}: not an image (or a format Pillow cannot read)") from exc
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"{name}: too many pixels to decode safely ({exc})") from exc
    except PermissionError as exc:
        raise UnreadableImageError(f"{name}: permission denied") from exc
    except Exception as exc:  # noqa: BLE001 - damaged headers raise many kinds
        raise UnreadableImageError(f"{name}: cannot read image header ({_cause(exc)})") from exc


def _check_array(arr: np.ndarray) -> UInt8Array:
    if arr.dtype != np.uint8:
        raise TypeError(f"image arrays must be uint8 (got {arr.dtype})")
    if arr.ndim != 3 or arr.shape[2] not in (3, 4) or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"image arrays must have shape (H, W, 3) or (H, W, 4) (got {arr.shape})")
    return np.ascontiguousarray(arr)


def _cause(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def load_image(
    source: Source,
    *,
    frames: Frames = "first",
    max_pixels: int = MAX_PIXELS,
    draft_above: int | None = DRAFT_ABOVE,
    upright: bool = False,
) -> LoadedImage:
    """Decode `source` to an (H, W, 3) or (H, W, 4) uint8 sRGB(A) array.

    Parameters
    ----------
    source : path, URL, bytes, binary file, PIL image or ndarray
        The image. Arrays must be (H, W, 3) or (H, W, 4) uint8 and are used as they are.
    frames : {"first", "all"}
        For animations and multi-page files: the first frame only, or every frame
        pooled (stacked as rows of one tall image).
    max_pixels : int
        Refuse images with more pixels than this (decompression-bomb guard).
    draft_above : int or None
        JPEGs with more pixels than this are decoded at 1/2, 1/4 or 1/8 scale by the
        decoder's own DCT scaling, keeping at least `draft_above` pixels. ``None``
        decodes at full size.
    upright : bool
        Apply the EXIF orientation (needed for pictures, not for colours).

    Raises
    ------
    UnreadableImageError
        For any input that cannot be decoded; the message names the input and the cause.
    """
    name = describe(source)
    if isinstance(source, np.ndarray):
        return LoadedImage(_check_array(source), name)
    im = open_image(source, name=name)
    try:
        w, h = im.size
        if w * h > max_pixels:
            raise ImageTooLargeError(
                f"{name}: {w}x{h} is {w * h:,} pixels, over the limit of {max_pixels:,} "
                "(a decompression-bomb guard; raise it with --max-pixels)"
            )
        if w == 0 or h == 0:
            raise UnreadableImageError(f"{name}: the image has no pixels ({w}x{h})")
        scale = _draft(im, draft_above) if frames == "first" else 1
        if frames == "all" and getattr(im, "n_frames", 1) > 1:
            pixels = _pool_frames(im, max_pixels, name, upright)
        else:
            pixels = _to_array(ImageOps.exif_transpose(im) if upright else im)
    except UnreadableImageError:
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt data raises OSError, SyntaxError, ...
        raise UnreadableImageError(f"{name}: cannot decode image ({_cause(exc)})") from exc
    finally:
        if im is not source:
            im.close()
    return LoadedImage(pixels, name, scale)


def _draft(im: Image.Image, draft_above: int | None) -> int:
    """Ask a large JPEG's decoder for DCT-scaled output; return the scale obtained."""
    w, h = im.size
    if draft_above is None or im.format != "JPEG" or w * h <= draft_above:
        return 1
    scale = 1
    while scale < 8 and (w // (scale * 2)) * (h // (scale * 2)) >= draft_above:
        scale *= 2
    if scale == 1:
        return 1
    mode = im.mode if im.mode in ("L", "RGB", "CMYK") else "RGB"
    im.draft(mode, (w // scale, h // scale))
    return max(1, w // im.size[0])


def _frames(im: Image.Image) -> Iterator[Image.Image]:
    yield from ImageSequence.Iterator(im)


def _pool_frames(im: Image.Image, max_pixels: int, name: str, upright: bool) -> UInt8Array:
    parts: list[UInt8Array] = []
    total = 0
    for frame in _frames(im):
        arr = _to_array(frame.copy())
        total += arr.shape[0] * arr.shape[1]
        if total > max_pixels:
            raise ImageTooLargeError(f"{name}: its frames hold over {max_pixels:,} pixels in all")
        parts.append(arr)
    channels = 4 if any(p.shape[2] == 4 for p in parts) else 3
    flat = [_with_channels(p, channels).reshape(-1, 1, channels) for p in parts]
    return np.ascontiguousarray(np.concatenate(flat, axis=0))


def _with_channels(arr: UInt8Array, channels: int) -> UInt8Array:
    if arr.shape[2] == channels:
        return arr
    alpha = np.full(arr.shape[:2] + (1,), 255, np.uint8)
    return np.concatenate([arr, alpha], axis=2)


def _to_array(im: Image.Image) -> UInt8Array:
    """Decode `im` and convert its mode to RGB or RGBA uint8."""
    mode = im.mode
    if mode in _HIGH_BIT_MODES:
        grey = _high_bit_grey(im)
        return np.repeat(grey[:, :, None], 3, axis=2)
    if mode in ("RGB", "RGBA") and "transparency" not in im.info:
        im.load()
        target = im
    elif mode in _ALPHA_MODES or "transparency" in im.info:
        target = im.convert("RGBA")
    elif mode.startswith("I;16"):
        grey = _high_bit_grey(im)
        return np.repeat(grey[:, :, None], 3, axis=2)
    else:
        target = im.convert("RGB")
    arr = np.asarray(target)
    if arr.ndim != 3 or arr.shape[2] not in (3, 4):
        raise UnreadableImageError(f"unexpected decoded shape {arr.shape}")
    return arr


def _high_bit_grey(im: Image.Image) -> UInt8Array:
    """16-bit or float greyscale -> 8-bit, scaling the full range of the mode."""
    arr = np.asarray(im).astype(np.float64)
    if im.mode == "F":
        peak = 1.0 if arr.size and np.nanmax(arr) <= 1.0 else 255.0
        arr = np.nan_to_num(arr) / peak * 255.0
    elif im.mode == "I" and arr.size and arr.max() <= 255:
        pass
    else:
        arr = arr / 257.0
    return np.clip(np.rint(arr), 0, 255).astype(np.uint8)
