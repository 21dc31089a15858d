"""Load an image from a path, URL, bytes, file object, PIL image or array as uint8 sRGB.

Only this module (and the renderers) talk to Pillow's decoders. Every decoding
problem becomes an :class:`~chromapal.errors.UnreadableImageError` whose message
names the input and the cause, so front ends can print one line.
"""

from __future__ import annotations

import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Final, Literal, Union

import numpy as np
from PIL import Image, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

from ._types import UInt8Array
from .arrays import as_image_array
from .errors import ImageTooLargeError, UnreadableImageError
from .jpeg import MAX_SCANS, check_jpeg
from .messages import cause, printable
from .png import check_png_input, fast_png
from .quiet import quiet_decoders  # noqa: F401 - re-exported: the CLI imports it from here

#: Default pixel limit: Pillow's own decompression-bomb threshold.
MAX_PIXELS: Final = 89_478_485
#: Default most frames (or pages) pooled by ``frames="all"``; more is an error.
MAX_FRAMES: Final = 1_000
#: JPEGs above this many pixels are decoded at a reduced DCT scale (see `load_image`).
DRAFT_ABOVE: Final = 1_000_000

Source = Union[  # noqa: UP007 - a runtime alias; `X | Y` of these fails on 3.11
    str, os.PathLike[str], bytes, bytearray, memoryview, IO[bytes], Image.Image, np.ndarray
]
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
        return printable(str(os.fspath(source)))
    if isinstance(source, (bytes, bytearray, memoryview)):
        return "<bytes>"
    if isinstance(source, Image.Image):
        return "<PIL image>"
    if isinstance(source, np.ndarray):
        return "<array>"
    name = getattr(source, "name", None)
    return printable(name) if isinstance(name, str) else "<file>"


def is_url(source: object) -> bool:
    """Return True if `source` is a string naming an http(s) URL."""
    return isinstance(source, str) and source.lower().startswith(("http://", "https://"))


def open_image(
    source: Source, *, name: str | None = None, max_pixels: int = MAX_PIXELS
) -> Image.Image:
    """Open `source` lazily with Pillow (header only); arrays are wrapped without decoding.

    The caller checks the size against `max_pixels` before decoding (as `load_image`
    does); `max_pixels` here only words the message when Pillow's own hard limit hits.

    Raises
    ------
    UnreadableImageError
        If the source is missing, a directory, empty, or not an image Pillow can identify.
    TypeError
        If `source` is of no supported type, or a file opened in text mode.
    """
    name = name or describe(source)
    if isinstance(source, Image.Image):
        return source
    if isinstance(source, np.ndarray):
        return Image.fromarray(as_image_array(source))
    if is_url(source):
        from .fetch import fetch_url  # imported on first use: http.client and ssl are slow to import

        source = fetch_url(str(source))
    fp = _binary_input(source, name)
    check_png_input(fp, name)  # before Pillow reads any chunk
    try:
        # Pillow only warns between its limit and twice it (no thread-unsafe warning filter
        # here): `load_image` applies `max_pixels` right after, before decoding.
        return Image.open(fp)
    except UnidentifiedImageError as exc:
        raise UnreadableImageError(
            f"{name}: not an image (or a format Pillow cannot read)"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(_bomb_message(name, exc, max_pixels)) from exc
    except PermissionError as exc:
        raise UnreadableImageError(f"{name}: permission denied") from exc
    except Exception as exc:  # noqa: BLE001 - damaged headers raise many kinds
        raise UnreadableImageError(
            _decode_message(name, exc, "cannot read the image header")
        ) from exc


def _binary_input(source: object, name: str) -> Any:
    """Return what `Image.open` takes for bytes, a path or a binary file; check it exists."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        if len(source) == 0:
            raise UnreadableImageError(f"{name}: empty input, not an image")
        return io.BytesIO(bytes(source))
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        try:
            size = path.stat().st_size
        except FileNotFoundError as exc:
            raise UnreadableImageError(f"{name}: no such file") from exc
        except (OSError, ValueError) as exc:  # e.g. permission, a name too long or with a NUL byte
            raise UnreadableImageError(f"{name}: cannot open ({cause(exc)})") from exc
        if path.is_dir():
            raise UnreadableImageError(f"{name}: is a directory, not an image")
        if size == 0:
            raise UnreadableImageError(f"{name}: empty file, not an image")
        return path
    if isinstance(source, io.BytesIO):
        with source.getbuffer() as view:
            if view.nbytes - source.tell() <= 0:
                raise UnreadableImageError(f"{name}: empty input, not an image")
    if isinstance(source, io.TextIOBase):
        raise TypeError(f"{name}: file objects must be opened in binary mode ('rb')")
    if hasattr(source, "read"):
        return source
    raise TypeError(
        f"cannot load an image from {type(source).__name__}; expected a path, URL, bytes, "
        "binary file, PIL image or uint8 array"
    )


def _too_large(name: str, pixels: int, max_pixels: int, size: str = "") -> str:
    return (
        f"{name}: {size}{pixels:,} pixels is over the limit of {max_pixels:,} "
        "(a decompression-bomb guard; raise it with max_pixels or --max-pixels)"
    )


def _bomb_message(name: str, exc: Exception, max_pixels: int) -> str:
    """Word Pillow's own hard-limit error like ours, with the pixel count."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    if found is None:
        return f"{name}: too many pixels to decode safely"
    pixels = int(found.group(1))
    if pixels > max_pixels:
        return _too_large(name, pixels, max_pixels)
    return f"{name}: {pixels:,} pixels is over Pillow's own limit (PIL.Image.MAX_IMAGE_PIXELS x 2)"


def _decode_message(name: str, exc: BaseException, doing: str) -> str:
    """One line naming the input and why decoding failed."""
    text = str(exc).lower()
    if "truncated" in text:
        return f"{name}: the file is truncated ({cause(exc)})"
    if "decoder error" in text:  # Pillow's word for a codec failing midway
        return f"{name}: damaged or incomplete image data ({cause(exc)})"
    return f"{name}: {doing} ({cause(exc)})"


def load_image(
    source: Source,
    *,
    frames: Frames = "first",
    max_pixels: int = MAX_PIXELS,
    draft_above: int | None = DRAFT_ABOVE,
    upright: bool = False,
    max_frames: int = MAX_FRAMES,
    max_scans: int = MAX_SCANS,
) -> LoadedImage:
    """Decode `source` to an (H, W, 3) or (H, W, 4) uint8 sRGB(A) array.

    Parameters
    ----------
    source : path, URL, bytes, binary file, PIL image or ndarray
        The image. Arrays are (H, W, 3) or (H, W, 4) colour or (H, W) or (H, W, 1)
        grey; uint8 is used as it is, uint16 and float in [0, 1] are scaled as
        scikit-image's ``img_as_ubyte`` does (see `chromapal.arrays`).
    frames : {"first", "all"}
        For animations and multi-page files: the first frame only, or every frame
        pooled (stacked as rows of one tall image).
    max_pixels : int
        Refuse images with more pixels than this (decompression-bomb guard).
    max_frames : int
        With ``frames="all"``: refuse files with more frames or pages than this.
    max_scans : int
        Refuse JPEGs with more scans than this (each scan is a pass over the whole
        image: a file repeating one scan could decode for minutes).
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
    ImageTooLargeError
        If the image (or all frames together) has more than `max_pixels` pixels, or
        more than `max_frames` frames; raised from the headers, before any decoding.
    TypeError, ValueError
        For a source of no supported type, an array of the wrong dtype or shape, or an
        unknown `frames` value (caller bugs, not `PaletteError` subclasses).
    """
    if frames not in ("first", "all"):
        raise ValueError(f"frames must be 'first' or 'all' (got {frames!r})")
    name = describe(source)
    if isinstance(source, np.ndarray):
        return LoadedImage(as_image_array(source), name)
    im = open_image(source, name=name, max_pixels=max_pixels)
    try:
        w, h = im.size
        if w * h > max_pixels:
            raise ImageTooLargeError(_too_large(name, w * h, max_pixels, f"{w}x{h} = "))
        if w == 0 or h == 0:
            raise UnreadableImageError(f"{name}: the image has no pixels ({w}x{h})")
        check_jpeg(im, name, max_scans)
        # Never change a caller's PIL image: no draft mode, and its frame is restored.
        scale = _draft(im, draft_above) if frames == "first" and im is not source else 1
        fast = None if upright or im is source else fast_png(im)
        if fast is not None:
            pixels = fast
        elif frames == "all" and getattr(im, "is_animated", False):
            pixels = _pool_frames(im, max_pixels, name, max_frames)
        else:
            pixels = _to_array(ImageOps.exif_transpose(im) if upright else im)
    except UnreadableImageError:
        raise
    except Image.DecompressionBombError as exc:  # Pillow checks again on seek and load
        raise ImageTooLargeError(_bomb_message(name, exc, max_pixels)) from exc
    except Exception as exc:  # noqa: BLE001 - corrupt data raises OSError, SyntaxError, ...
        raise UnreadableImageError(_decode_message(name, exc, "cannot decode the image")) from exc
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


def _pool_frames(im: Image.Image, max_pixels: int, name: str, max_frames: int) -> UInt8Array:
    """Every frame's pixels stacked as rows of one (N, 1, C) image; the frame shown is kept.

    Frames are counted as they are reached (never ``n_frames``, which walks the
    whole file first): the one past `max_frames` ends the work with an error.
    """
    start = im.tell()
    parts: list[UInt8Array] = []
    total = 0
    try:
        for count, frame in enumerate(ImageSequence.Iterator(im), 1):
            if count > max_frames:
                raise ImageTooLargeError(
                    f"{name}: over {max_frames:,} frames with frames='all' (a guard on decoding "
                    "work; read the first frame only, or raise max_frames)"
                )
            w, h = frame.size  # checked before decoding: pages of a TIFF may differ in size
            total += w * h
            if total > max_pixels:
                raise ImageTooLargeError(
                    f"{name}: its frames hold over {max_pixels:,} pixels in all "
                    "(a decompression-bomb guard; raise it with max_pixels or --max-pixels)"
                )
            parts.append(_to_array(frame.copy()))
    finally:
        im.seek(start)
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
    if im.mode == "La":  # premultiplied; Pillow converts it to LA only
        im = im.convert("LA")
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
        raise ValueError(f"unexpected decoded shape {arr.shape}")
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
