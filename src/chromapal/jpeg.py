"""Cheap checks of a JPEG's structure before it is decoded: the scan count and the data size.

libjpeg decodes every scan of a progressive JPEG over the whole image, so a small
file that repeats one scan a thousand times costs minutes; and a file whose header
declares far more pixels than its data can hold is decoded as grey fill with only a
warning. Both are refused here from a bounded walk of the file Pillow opened: the
segment headers up to the first scan, then a count of the scan markers in the rest,
read in 1 MiB blocks (the same way libjpeg-turbo's ``-maxscans`` option bounds work).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any, Final

import numpy as np

from .errors import UnreadableImageError

#: Most scans accepted in one JPEG file. Encoders write 1 (baseline), 3-4 (one scan
#: per component) or about 10 (libjpeg's progressive script); mozjpeg's optimised
#: scripts stay under 30. Each scan costs a full pass over the image's coefficients.
MAX_SCANS: Final = 100
#: Start-of-frame markers (SOF0-3, 5-7, 9-11, 13-15); from 0xC9 on, arithmetic coded.
_SOF: Final = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_SOS: Final = 0xDA
#: Markers with no length field: TEM, RST0-7, SOI, EOI.
_STANDALONE: Final = frozenset({0x01, *range(0xD0, 0xDA)})
_BLOCK: Final = 1 << 20


@dataclass(frozen=True)
class Frame:
    """What the start-of-frame segment declares."""

    width: int
    height: int
    sampling: tuple[tuple[int, int], ...]  # (horizontal, vertical) factor per component
    arithmetic: bool

    def min_data_bytes(self) -> int:
        """The fewest bytes of Huffman-coded data any complete image of this frame needs.

        Every 8x8 block of every component carries a DC code of at least one bit
        (two with the end-of-block code in a sequential file), so a file with less
        data cannot hold the image: libjpeg would fill the rest with grey.
        """
        if self.arithmetic or not self.sampling:
            return 0  # arithmetic coding can spend under a bit per block
        h_max = max(h for h, _ in self.sampling)
        v_max = max(v for _, v in self.sampling)
        blocks = 0
        for h, v in self.sampling:
            cols = -(-(-(-self.width * h // h_max)) // 8)
            rows = -(-(-(-self.height * v // v_max)) // 8)
            blocks += cols * rows
        return blocks // 8


def check_jpeg(im: Any, name: str, max_scans: int = MAX_SCANS) -> None:
    """Refuse, before decoding, a JPEG with over `max_scans` scans or too little data.

    `im` is a ``PIL.Image`` not yet decoded; its file is read from the start and
    left where it was. Other formats, and images already decoded, are not checked.

    Raises
    ------
    UnreadableImageError
        Naming `name`: too many scans, or the data cannot hold the declared size.
    """
    fp = getattr(im, "fp", None)
    if im.format not in ("JPEG", "MPO") or fp is None or not getattr(im, "tile", None):
        return
    start = fp.tell()
    try:
        found = _walk(fp)
    finally:
        fp.seek(start)
    if found is None:
        return  # no scan found: Pillow reports the damage when it decodes
    frame, scans, data_bytes = found
    if scans > max_scans:
        raise UnreadableImageError(
            f"{name}: {scans:,} scans is over the limit of {max_scans} for a JPEG "
            "(a guard against files made to decode for minutes)"
        )
    if frame is not None and data_bytes < frame.min_data_bytes():
        raise UnreadableImageError(
            f"{name}: the file is truncated or damaged ({data_bytes:,} bytes of image data "
            f"cannot hold {frame.width}x{frame.height} pixels)"
        )


def _walk(fp: IO[bytes]) -> tuple[Frame | None, int, int] | None:
    """(frame, scan count, bytes from the first scan on), or None if no scan is found."""
    size = fp.seek(0, 2)
    fp.seek(0)
    if fp.read(2) != b"\xff\xd8":
        return None
    frame = None
    pos = 2
    while True:
        fp.seek(pos)
        head = fp.read(4)
        if len(head) < 2 or head[0] != 0xFF:
            return None
        marker = head[1]
        if marker == 0xFF:  # a fill byte before the marker
            pos += 1
            continue
        if marker in _STANDALONE:
            if marker == 0xD9:
                return None
            pos += 2
            continue
        if len(head) < 4:
            return None
        length = int.from_bytes(head[2:4], "big")
        if marker == _SOS:
            return frame, _count_scans(fp, pos, size), size - pos
        if marker in _SOF:
            frame = _read_frame(fp.read(max(0, length - 2)), arithmetic=marker >= 0xC9) or frame
        if length < 2:
            return None
        pos += 2 + length


def _read_frame(body: bytes, *, arithmetic: bool) -> Frame | None:
    if len(body) < 6:
        return None
    height, width, count = int.from_bytes(body[1:3], "big"), int.from_bytes(body[3:5], "big"), body[5]
    factors = body[6 : 6 + 3 * count : 3] if len(body) >= 6 + 3 * count else b""
    sampling = tuple((max(1, f >> 4), max(1, f & 15)) for f in factors)
    return Frame(width, height, sampling, arithmetic)


def _count_scans(fp: IO[bytes], pos: int, size: int) -> int:
    """Count SOS markers from `pos` to the end of the file, reading 1 MiB at a time.

    Entropy-coded data never holds 0xFF 0xDA (a data byte 0xFF is stuffed as 0xFF
    0x00); only a table segment between scans could, which overcounts, never under.
    """
    fp.seek(pos)
    scans, carry = 0, b""
    while pos < size:
        block = fp.read(_BLOCK)
        if not block:
            break
        pos += len(block)
        scans += _count_sos(carry + block[:1]) + _count_sos(block)
        carry = block[-1:]
    return scans


def _count_sos(data: bytes) -> int:
    """Occurrences of 0xFF 0xDA in `data`: each 0xDA byte (rare in coded data) whose byte before is 0xFF.

    The same count as ``bytes.count`` of the two bytes (the pattern cannot overlap itself),
    several times faster on coded data, where 0xFF bytes are common.
    """
    arr = np.frombuffer(data, np.uint8)
    at = np.flatnonzero(arr[1:] == 0xDA)
    return int(np.count_nonzero(arr[at] == 0xFF))
