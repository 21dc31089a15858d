"""Web formats: CSS custom properties, SCSS variables and an SVG swatch strip."""

from __future__ import annotations

import re
from collections.abc import Sequence
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import numpy as np

from ..palette import Palette, parse_hex, text_color_for
from .data import equal_shares, slugs
from .text import comment_text

_CSS_VAR = re.compile(r"--([A-Za-z0-9_-]+)\s*:\s*(#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3})\b")
_SCSS_VAR = re.compile(r"\$([A-Za-z0-9_-]+)\s*:\s*(#[0-9a-fA-F]{6}|#[0-9a-fA-F]{3})\b")
_SVG_NS = "http://www.w3.org/2000/svg"


def _title(palette: Palette) -> str:
    """The palette's title in comments: its image's path, made safe for any comment."""
    return (
        f"chromapal palette of {comment_text(palette.source)}"
        if palette.source
        else "chromapal palette"
    )


def write_css(palette: Palette, labels: Sequence[str]) -> bytes:
    """``:root { --color-NAME: #rrggbb; /* share */ }``, one custom property per colour."""
    lines = [f"/* {_title(palette)} */", ":root {"]
    for slug, s in zip(slugs(labels), palette, strict=True):
        lines.append(f"  --color-{slug}: {s.hex}; /* {s.proportion:.1%} */")
    return ("\n".join([*lines, "}"]) + "\n").encode()


def read_css(data: bytes) -> Palette:
    """Read every ``--name: #hex`` custom property, in order."""
    return equal_shares([parse_hex(m[2]) for m in _CSS_VAR.finditer(data.decode("utf-8-sig"))])


def write_scss(palette: Palette, labels: Sequence[str]) -> bytes:
    """``$color-NAME: #rrggbb; // share``, one variable per colour."""
    lines = [f"// {_title(palette)}"]
    for slug, s in zip(slugs(labels), palette, strict=True):
        lines.append(f"$color-{slug}: {s.hex}; // {s.proportion:.1%}")
    return ("\n".join(lines) + "\n").encode()


def read_scss(data: bytes) -> Palette:
    """Read every ``$name: #hex`` variable, in order."""
    return equal_shares([parse_hex(m[2]) for m in _SCSS_VAR.finditer(data.decode("utf-8-sig"))])


SWATCH = 120  # px, side of one swatch


def write_svg(palette: Palette, labels: Sequence[str]) -> bytes:
    """Write a row of labelled squares; each ``rect`` keeps its share in ``data-proportion``."""
    width, height = SWATCH * max(len(palette), 1), SWATCH
    parts = [
        f'<svg xmlns="{_SVG_NS}" width="{width}" height="{height}" viewBox="0 0 {width} {height}">',
        f"  <title>{escape(_title(palette))}</title>",
    ]
    for i, (label, s) in enumerate(zip(labels, palette, strict=True)):
        x, ink = i * SWATCH, text_color_for(s.rgb)
        parts += [
            f'  <g><rect x="{x}" y="0" width="{SWATCH}" height="{SWATCH}" fill="{s.hex}" '
            f'data-proportion="{s.proportion:.6f}"><title>{escape(label)} {s.hex}</title></rect>',
            f'    <text x="{x + 8}" y="{SWATCH - 26}" fill="{ink}" font-family="monospace" '
            f'font-size="12">{escape(label)}</text>',
            f'    <text x="{x + 8}" y="{SWATCH - 10}" fill="{ink}" font-family="monospace" '
            f'font-size="12">{s.hex} {s.proportion:.1%}</text></g>',
        ]
    return ("\n".join([*parts, "</svg>"]) + "\n").encode()


def read_svg(data: bytes) -> Palette:
    """Read the ``fill`` of every ``rect`` with a hex fill, in document order."""
    root = ElementTree.fromstring(data)
    rects = [
        r
        for r in root.iter(f"{{{_SVG_NS}}}rect")
        if re.fullmatch(r"#[0-9a-fA-F]{3,6}", r.get("fill", ""))
    ]
    colors = [parse_hex(r.get("fill", "")) for r in rects]
    shares = [r.get("data-proportion") for r in rects]
    if colors and all(shares):
        return Palette(np.array(colors, dtype=np.uint8), np.array([float(p or 0) for p in shares]))
    return equal_shares(colors)
