"""Palette files of graphics programs: GIMP/Inkscape, Adobe (ASE), Paint.NET, Krita, Procreate.

Each follows its program's published layout:

* ``.gpl``: the ``GIMP Palette`` line, ``Name:``, ``Columns:``, then ``R G B<tab>label``.
* ``.ase``: ``ASEF``, version 1.0, block count, then colour-entry blocks (type 0x0001):
  UTF-16BE name with its length in code units (terminating NUL included), the model
  ``RGB `` and three big-endian float32 in [0, 1], and the colour type (2: normal).
* Paint.NET ``.txt``: ``;`` comment lines and one ``AARRGGBB`` hex number a line.
* Krita ``.kpl``: a zip with ``mimetype`` (stored first), ``colorset.xml`` and ``profiles.xml``.
* Procreate ``.swatches``: a zip with ``Swatches.json``: ``[{"name", "swatches": [HSB in 0-1]}]``.
"""

from __future__ import annotations

import colorsys
import io
import json
import re
import struct
import zipfile
from collections.abc import Sequence
from pathlib import PurePath
from xml.etree import ElementTree
from xml.sax.saxutils import quoteattr

import numpy as np

from ..colorspace import lab_to_srgb
from ..palette import Palette
from .data import equal_shares
from .text import comment_text


def _name(palette: Palette) -> str:
    """The palette's name inside a file: the image's name, safe in any comment or line."""
    return comment_text(PurePath(palette.source).stem) if palette.source else "chromapal"


def _u8(value: float) -> int:
    return int(np.clip(round(value * 255), 0, 255))


# GIMP ---------------------------------------------------------------------------------------


def write_gpl(palette: Palette, labels: Sequence[str]) -> bytes:
    """GIMP palette: header, ``Name:``, ``Columns:``, one ``R G B<tab>label`` line per colour."""
    lines = [
        "GIMP Palette",
        f"Name: {_name(palette)}",
        f"Columns: {min(max(len(palette), 1), 16)}",
        "# Made by chromapal; labels are the nearest named colours",
    ]
    for label, s in zip(labels, palette, strict=True):
        r, g, b = s.rgb
        lines.append(f"{r:3d} {g:3d} {b:3d}\t{comment_text(label)}")
    return ("\n".join(lines) + "\n").encode()


def read_gpl(data: bytes) -> Palette:
    """Read a GIMP palette: ``GIMP Palette`` first, then ``R G B [name]`` lines."""
    lines = data.decode("utf-8-sig").splitlines()
    if not lines or lines[0].strip() != "GIMP Palette":
        raise ValueError("the first line is not 'GIMP Palette'")
    colors = []
    for line in lines[1:]:
        text = line.strip()
        if not text or text.startswith("#") or re.match(r"(Name|Columns):", text):
            continue
        r, g, b = (int(v) for v in text.split()[:3])
        colors.append((r, g, b))
    return equal_shares(colors)


# Adobe Swatch Exchange -----------------------------------------------------------------------

_ASE_COLOR, _ASE_GROUP_START, _ASE_GROUP_END = 0x0001, 0xC001, 0xC002
_ASE_NORMAL = 2


def _ase_name(text: str) -> bytes:
    encoded = (text + "\0").encode("utf-16-be")
    return struct.pack(">H", len(encoded) // 2) + encoded


def write_ase(palette: Palette, labels: Sequence[str]) -> bytes:
    """Adobe Swatch Exchange 1.0: one RGB colour-entry block per colour, big-endian."""
    blocks = []
    for label, s in zip(labels, palette, strict=True):
        body = _ase_name(label) + b"RGB " + struct.pack(">3f", *(c / 255 for c in s.rgb))
        body += struct.pack(">H", _ASE_NORMAL)
        blocks.append(struct.pack(">HI", _ASE_COLOR, len(body)) + body)
    return b"ASEF" + struct.pack(">HHI", 1, 0, len(blocks)) + b"".join(blocks)


def _ase_rgb(model: bytes, values: tuple[float, ...]) -> tuple[int, int, int]:
    if model == b"RGB ":
        r, g, b = values
        return _u8(r), _u8(g), _u8(b)
    if model == b"GRAY":
        return (_u8(values[0]),) * 3
    if model == b"CMYK":  # naive, unmanaged conversion
        c, m, y, k = values
        return _u8((1 - c) * (1 - k)), _u8((1 - m) * (1 - k)), _u8((1 - y) * (1 - k))
    if model == b"LAB ":  # L in 0-1, a and b in CIELAB units
        r, g, b = lab_to_srgb([values[0] * 100, values[1], values[2]])
        return int(r), int(g), int(b)
    raise ValueError(f"unknown colour model {model!r}")


def read_ase(data: bytes) -> Palette:
    """Read the colour entries of an ASE file (RGB, Gray, CMYK or LAB), groups flattened."""
    if data[:4] != b"ASEF":
        raise ValueError("no 'ASEF' signature")
    (count,) = struct.unpack_from(">I", data, 8)
    offset, colors = 12, []
    for _ in range(count):
        kind, length = struct.unpack_from(">HI", data, offset)
        body = data[offset + 6 : offset + 6 + length]
        if len(body) != length:
            raise ValueError("the file ends inside a block")
        offset += 6 + length
        if kind != _ASE_COLOR:
            continue
        (units,) = struct.unpack_from(">H", body, 0)
        pos = 2 + 2 * units
        model = body[pos : pos + 4]
        n = {b"RGB ": 3, b"LAB ": 3, b"CMYK": 4, b"GRAY": 1}.get(model, 0)
        colors.append(_ase_rgb(model, struct.unpack_from(f">{n}f", body, pos + 4)))
    return equal_shares(colors)


# Paint.NET ----------------------------------------------------------------------------------

_PDN_LINE = re.compile(r"[0-9a-fA-F]{8}")
PAINTNET_MAX = 96  # colours Paint.NET reads from a palette file


def write_paintnet(palette: Palette, labels: Sequence[str]) -> bytes:
    """Paint.NET palette: comment header, then ``FFRRGGBB`` per colour (labels as comments).

    Paint.NET reads 96 colours; only the first `PAINTNET_MAX` are written.
    """
    lines = [
        "; paint.net Palette File",
        f"; {_name(palette)}: made by chromapal. Lines that start with a semicolon are comments.",
        "; Colors are written as 8-digit hexadecimal numbers: aarrggbb (Paint.NET reads 96).",
    ]
    for label, s in list(zip(labels, palette, strict=True))[:PAINTNET_MAX]:
        lines += [f"; {comment_text(label)}", "FF" + s.hex[1:].upper()]
    return ("\r\n".join(lines) + "\r\n").encode()


def looks_like_paintnet(data: bytes) -> bool:
    """Return True if a ``.txt`` file's first colour line is an ``AARRGGBB`` number (Paint.NET)."""
    for line in data.decode("utf-8-sig", errors="replace").splitlines():
        text = line.strip()
        if text and not text.startswith(";"):
            return bool(_PDN_LINE.fullmatch(text))
    return False


def read_paintnet(data: bytes) -> Palette:
    """Read the ``AARRGGBB`` lines of a Paint.NET palette (alpha ignored)."""
    colors = []
    for line in data.decode("utf-8-sig").splitlines():
        text = line.strip()
        if _PDN_LINE.fullmatch(text):
            value = int(text, 16)
            colors.append(((value >> 16) & 255, (value >> 8) & 255, value & 255))
        elif text and not text.startswith(";"):
            raise ValueError(f"{text!r} is not an AARRGGBB colour")
    return equal_shares(colors)


# Krita --------------------------------------------------------------------------------------

KPL_MIMETYPE = "application/x-krita-palette"
KPL_COLUMNS = 8


def write_kpl(palette: Palette, labels: Sequence[str]) -> bytes:
    """Krita palette: zip of ``mimetype``, ``colorset.xml`` (sRGB, U8) and ``profiles.xml``."""
    rows = max(1, -(-len(palette) // KPL_COLUMNS))
    xml = [
        f'<Colorset version="1.0" name={quoteattr(_name(palette))} comment="Made by chromapal" '
        f'columns="{KPL_COLUMNS}" rows="{rows}" readonly="false">'
    ]
    for i, (label, s) in enumerate(zip(labels, palette, strict=True)):
        r, g, b = (c / 255 for c in s.rgb)
        xml += [
            f'  <ColorSetEntry name={quoteattr(label)} id="{i + 1}" spot="false" bitdepth="U8">',
            f'    <RGB space="sRGB-elle-V2-srgbtrc.icc" r="{r:.9g}" g="{g:.9g}" b="{b:.9g}"/>',
            f'    <Position row="{i // KPL_COLUMNS}" column="{i % KPL_COLUMNS}"/>',
            "  </ColorSetEntry>",
        ]
    xml.append("</Colorset>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), KPL_MIMETYPE, compress_type=zipfile.ZIP_STORED)
        zf.writestr("colorset.xml", "\n".join(xml) + "\n", compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr("profiles.xml", "<Profiles/>\n", compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def read_kpl(data: bytes) -> Palette:
    """Read the RGB/sRGB/Gray entries of a Krita palette, groups flattened, in file order."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        root = ElementTree.fromstring(zf.read("colorset.xml"))
    colors = []
    for entry in root.iter("ColorSetEntry"):
        color = next(iter(entry))
        if color.tag in ("RGB", "sRGB"):
            colors.append(
                (
                    _u8(float(color.get("r", 0))),
                    _u8(float(color.get("g", 0))),
                    _u8(float(color.get("b", 0))),
                )
            )
        elif color.tag == "Gray":
            colors.append((_u8(float(color.get("g", 0))),) * 3)
    return equal_shares(colors)


# Procreate ----------------------------------------------------------------------------------

PROCREATE_MAX = 30  # colours in one Procreate palette


def write_procreate(palette: Palette, labels: Sequence[str]) -> bytes:
    """Procreate swatches: a zip holding ``Swatches.json``, HSB colours; the first 30 colours."""
    swatches = []
    for s in list(palette)[:PROCREATE_MAX]:
        h, sat, v = colorsys.rgb_to_hsv(*(c / 255 for c in s.rgb))
        swatches.append({"hue": h, "saturation": sat, "brightness": v, "alpha": 1, "colorSpace": 0})
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("Swatches.json", json.dumps([{"name": _name(palette), "swatches": swatches}]))
    return out.getvalue()


def read_procreate(data: bytes) -> Palette:
    """Read the swatches of a Procreate ``.swatches`` file (empty slots skipped)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        value = json.loads(zf.read("Swatches.json"))
    entry = value[0] if isinstance(value, list) else value
    colors = []
    for sw in entry["swatches"]:
        if sw:
            r, g, b = colorsys.hsv_to_rgb(sw["hue"], sw["saturation"], sw["brightness"])
            colors.append((_u8(r), _u8(g), _u8(b)))
    return equal_shares(colors)
