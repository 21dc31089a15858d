"""The PNG fast path: plain 8-bit RGB(A) PNGs inflated by libdeflate, rows unfiltered in C.

About 2x faster than Pillow's decoder on photos and 4-5x on flat art (zlib is slow on
long runs); see docs/benchmarks.md. It decodes only what Pillow would decode the same
way ("one parser decides"): the chunks are walked from the file Pillow opened, with
bounded reads, and any file Pillow could read differently goes back to Pillow, whose
size is the one checked against the pixel limit. Refused (``None``) are, among others:

- an IHDR that is not the first chunk, or a second IHDR anywhere;
- IDAT chunks split by another chunk, or none at all;
- a chunk whose length is over 2**31 - 1 or runs past the end of the file, a chunk
  type that is not four ASCII letters, a missing IEND, a critical chunk after the
  image data, a bad CRC where Pillow checks one (every chunk before the image data);
- transparency (tRNS) or animation (acTL, fcTL, fdAT) chunks anywhere;
- an IHDR whose size or colour type is not Pillow's ``im.size`` and ``im.mode``;
- more compressed image data than `idat_limit` allows for the image's size.

Nothing after IEND is read, so trailing data costs neither time nor memory.

`check_png_metadata` runs before Pillow opens any PNG: Pillow reads every chunk that is
not image data whole into memory (a 1 GB private chunk in a sparse file cost 2.1 GB), so
their total is bounded by `MAX_PNG_METADATA`.
"""

from __future__ import annotations

import os
import zlib
from typing import IO, Any, Final

import numpy as np

from ._types import UInt8Array
from .errors import UnreadableImageError

try:  # libdeflate: inflates PNG data ~2.5x faster than zlib
    import deflate
except ImportError:  # pragma: no cover - depends on the platform's wheels
    deflate = None  # type: ignore[assignment]
try:  # the compiled kernels undo the PNG row filters
    from . import _kernels as KERNELS
except ImportError:  # pragma: no cover - depends on the build
    KERNELS = None  # type: ignore[assignment]

PNG_SIGNATURE: Final = b"\x89PNG\r\n\x1a\n"
#: The largest chunk length the PNG specification allows.
MAX_CHUNK: Final = 2**31 - 1
#: Chunks that change how Pillow reads an RGB(A) PNG (transparency, animation).
_DECLINED: Final = {b"tRNS", b"acTL", b"fcTL", b"fdAT"}
#: Most bytes a PNG may hold in chunks other than image data (IDAT, fdAT): ICC profiles,
#: text, EXIF, editors' private chunks. Pillow holds each such chunk in memory (twice while
#: reading one over 1 MiB).
MAX_PNG_METADATA: Final = 64 * 1024 * 1024
#: Bytes read at a time when checking the CRC of a chunk before the image data.
_BLOCK: Final = 1 << 20
#: (bit depth, colour type) -> Pillow's mode and the channels per pixel.
_TYPES: Final = {(8, 2): ("RGB", 3), (8, 6): ("RGBA", 4)}


def check_png_metadata(fp: IO[bytes], name: str, limit: int = MAX_PNG_METADATA) -> None:
    """Refuse a PNG whose chunks other than image data hold over `limit` bytes.

    Reads only the 8-byte chunk headers of the seekable binary file `fp` (from offset
    8 to IEND), counting the bytes each chunk really has in the file, so a damaged
    file whose lengths run past its end still reaches Pillow for its own message.
    The file position is restored.

    Raises
    ------
    UnreadableImageError
        Naming `name`, when the total is over `limit`.
    """
    start = fp.tell()
    try:
        size = fp.seek(0, 2)
        pos, total = 8, 0
        while pos + 8 <= size:
            fp.seek(pos)
            header = fp.read(8)
            kind = header[4:]
            if len(header) < 8 or kind == b"IEND":
                break
            length = int.from_bytes(header[:4], "big")
            if kind not in (b"IDAT", b"fdAT"):
                total += min(length, size - pos - 8)
                if total > limit:
                    raise UnreadableImageError(
                        f"{name}: over {limit:,} bytes of PNG chunks that are not image data "
                        "(metadata; a guard on memory)"
                    )
            pos += 12 + length
    finally:
        fp.seek(start)


def check_png_input(source: Any, name: str) -> None:
    """`check_png_metadata` for a path or a seekable binary file, if it holds a PNG.

    Files are read from offset 0, as ``Image.open`` reads them, and left where they
    were; unreadable and unseekable inputs are left to Pillow (it reads an unseekable
    file into memory whole, so its size is already what it is).
    """
    if isinstance(source, (str, os.PathLike)):
        try:
            with open(source, "rb") as fp:
                _check_if_png(fp, name)
        except OSError:
            pass  # Image.open names the problem
        return
    try:
        if not source.seekable():
            return
        start = source.tell()
    except (OSError, ValueError, AttributeError):
        return
    try:
        _check_if_png(source, name)
    except OSError:
        pass  # Pillow reports an unreadable file
    finally:
        source.seek(start)


def _check_if_png(fp: IO[bytes], name: str) -> None:
    fp.seek(0)
    if fp.read(8) == PNG_SIGNATURE:
        check_png_metadata(fp, name)


def idat_limit(raw_bytes: int) -> int:
    """The most compressed bytes accepted for `raw_bytes` of filtered rows.

    Deflate's worst case (stored blocks) adds 5 bytes per 65,535 and zlib 6 in all;
    an eighth more plus 4 KiB leaves room for any real encoder. Longer streams (for
    example padded with empty blocks) go to Pillow, which inflates as it reads.
    """
    return raw_bytes + raw_bytes // 8 + 4096


def fast_png(im: Any) -> UInt8Array | None:
    """Decode the PNG that `im` (a ``PIL.Image`` opened by chromapal) reads, or return None.

    The bytes come from ``im.fp``, the very file Pillow parsed, so a path swapped
    between the two reads changes nothing; its position is restored afterwards, so
    Pillow can still decode the file when this returns None.
    """
    fp = getattr(im, "fp", None)
    if (
        deflate is None
        or KERNELS is None
        or fp is None
        or im.format != "PNG"
        or im.mode not in ("RGB", "RGBA")
        or "transparency" in im.info
        or getattr(im, "is_animated", False)
    ):
        return None
    try:
        start = fp.tell()
    except (OSError, ValueError):
        return None
    try:
        return decode_png_file(fp, expect=(im.size, im.mode))
    except (OSError, ValueError, AttributeError, TypeError):  # unreadable or unseekable: Pillow reports it
        return None
    finally:
        fp.seek(start)


def decode_png(data: bytes | bytearray | memoryview) -> UInt8Array | None:
    """The (H, W, 3|4) pixels of a plain 8-bit RGB(A) PNG held in memory, or None.

    None means "not for this path": another PNG type, an interlaced or animated
    file, or a damaged or ambiguous one (see the module docstring); Pillow decodes
    or reports those.
    """
    import io

    return decode_png_file(io.BytesIO(bytes(data)))


def decode_png_file(
    fp: IO[bytes], expect: tuple[tuple[int, int], str] | None = None
) -> UInt8Array | None:
    """Decode the PNG in the seekable binary file `fp` from its start, or return None.

    Parameters
    ----------
    fp : binary file
        Seekable; read from offset 0 in bounded pieces, never past IEND.
    expect : ((width, height), mode) or None
        What Pillow read from the header; any difference returns None.
    """
    layout = _walk_chunks(fp, expect)
    if layout is None:
        return None
    width, height, channels, idats = layout
    data = bytearray(sum(length for _, length in idats))
    view, filled = memoryview(data), 0
    for offset, length in idats:
        fp.seek(offset)
        chunk = fp.read(length)
        if len(chunk) != length:
            return None  # the file shrank under us
        view[filled:filled + length] = chunk
        filled += length
    row = width * channels
    try:
        raw = deflate.zlib_decompress(data, height * (row + 1))
        if len(raw) != height * (row + 1):
            return None
        pixels = np.empty((height, width, channels), np.uint8)
        KERNELS.png_unfilter(raw, height, row, channels, pixels)
    except Exception:  # noqa: BLE001 - damaged data (libdeflate, filter bytes): Pillow reports it
        return None
    return pixels


def _walk_chunks(
    fp: IO[bytes], expect: tuple[tuple[int, int], str] | None
) -> tuple[int, int, int, list[tuple[int, int]]] | None:
    """Check the chunk layout; return (width, height, channels, IDAT (offset, length)s) or None."""
    size = fp.seek(0, 2)
    fp.seek(0)
    head = fp.read(8 + 8 + 13 + 4)
    if len(head) < 33 or head[:8] != PNG_SIGNATURE or head[8:16] != b"\x00\x00\x00\x0dIHDR":
        return None
    if zlib.crc32(head[12:29]) != int.from_bytes(head[29:33], "big"):
        return None
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    depth, colour, compression, filtering, interlace = head[24:29]
    if (depth, colour) not in _TYPES or compression or filtering or interlace:
        return None
    mode, channels = _TYPES[depth, colour]
    if not 0 < width <= MAX_CHUNK or not 0 < height <= MAX_CHUNK:
        return None
    if expect is not None and expect != ((width, height), mode):
        return None
    budget = idat_limit(height * (width * channels + 1))
    idats: list[tuple[int, int]] = []
    pos, state = 33, "before"  # "before" the IDATs, "in" them, "after" them
    while True:
        fp.seek(pos)
        header = fp.read(8)
        if len(header) < 8:
            return None  # no IEND
        length, kind = int.from_bytes(header[:4], "big"), header[4:]
        end = pos + 12 + length
        if length > MAX_CHUNK or end > size or not kind.isalpha():
            return None
        if kind == b"IEND":
            ok = length == 0 and state != "before" and fp.read(4) == b"\xae\x42\x60\x82"
            return (width, height, channels, idats) if ok else None
        if kind in _DECLINED or kind == b"IHDR":
            return None
        if kind == b"IDAT":
            if state == "after":
                return None  # image data split by another chunk
            state = "in"
            budget -= length
            if budget < 0:
                return None
            idats.append((pos + 8, length))
        elif state == "before":
            if not _crc_ok(fp, kind, length):  # Pillow checks these before decoding
                return None
        else:
            state = "after"
            if kind[0] & 0x20 == 0:  # a critical chunk after the image data
                return None
        pos = end


def _crc_ok(fp: IO[bytes], kind: bytes, length: int) -> bool:
    """Whether the chunk body at the file position (then its CRC) matches, read in blocks."""
    crc = zlib.crc32(kind)
    left = length
    while left:
        block = fp.read(min(left, _BLOCK))
        if not block:
            return False
        crc = zlib.crc32(block, crc)
        left -= len(block)
    return fp.read(4) == crc.to_bytes(4, "big")
