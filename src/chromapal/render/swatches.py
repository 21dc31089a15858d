"""Palette strips: one band per colour, as wide as its share (or all equal), with hex labels.

Labels are black or white, whichever contrasts more with the band (WCAG contrast). A
band too narrow for a horizontal label gets it rotated; one narrower than a line of text
gets none (``equal=True`` gives every colour room).
"""

from __future__ import annotations

from functools import lru_cache
from html import escape as _html_escape
from typing import Final

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .._types import FloatArray
from ..palette import Palette, parse_hex, text_color_for


def escape(text: str) -> str:
    """``&``, ``<`` and ``>`` escaped for XML text (xml.sax.saxutils would import urllib and ssl)."""
    return _html_escape(text, quote=False)


WIDTH: Final = 960
HEIGHT: Final = 160
PAD: Final = 6


def edges(
    palette: Palette, width: float, *, equal: bool = False, integer: bool = True
) -> FloatArray:
    """Left edge of each band, then the right end: shape (n + 1,); band i is ``edges[i:i+2]``.

    With `integer` the edges are rounded, so each band is within half a pixel of
    ``share * width`` and together they fill `width` exactly.
    """
    n = len(palette)
    shares = np.full(n, 1 / n) if equal else palette.proportions / palette.proportions.sum()
    out = np.concatenate([[0.0], np.cumsum(shares)]) * width
    out[-1] = width
    return np.rint(out) if integer else out


def _font_size(height: int) -> int:
    return int(np.clip(height // 9, 9, 22))


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _label_choices(hex_code: str, share: float, equal: bool) -> list[list[str]]:
    """Labels to try, fullest first: hex and share, then the hex alone."""
    return [[hex_code]] if equal else [[hex_code, f"{share:.1%}"], [hex_code]]


def swatch_image(
    palette: Palette,
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    equal: bool = False,
    labels: bool = True,
) -> Image.Image:
    """Draw `palette` as an RGB strip `width` x `height` pixels; see the module docstring."""
    if len(palette) == 0:
        raise ValueError("the palette has no colours; expected at least one")
    if width < len(palette) or height < 1:
        raise ValueError(f"a {width}x{height} strip cannot show {len(palette)} colours")
    x = edges(palette, width, equal=equal).astype(int)
    strip = np.repeat(
        palette.colors[np.repeat(np.arange(len(palette)), np.diff(x))][None], height, axis=0
    )
    image = Image.fromarray(np.ascontiguousarray(strip))
    if labels:
        font = _font(_font_size(height))
        for i, swatch in enumerate(palette):
            for lines in _label_choices(swatch.hex, swatch.proportion, equal):
                band = (int(x[i]), int(x[i + 1]))
                if _draw_label(image, "\n".join(lines), band, text_color_for(swatch.rgb), font):
                    break
    return image


def _draw_label(
    image: Image.Image,
    text: str,
    band: tuple[int, int],
    fill: str,
    font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
) -> bool:
    """Put `text` at the bottom of the band, level or else rotated; False if it fits neither way."""
    draw = ImageDraw.Draw(image)
    left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font, spacing=2)
    tw, th = right - left, bottom - top
    bw = band[1] - band[0]
    if tw + 2 * PAD <= bw and th + 2 * PAD <= image.height:
        draw.multiline_text(
            (band[0] + PAD, image.height - PAD - th - top), text, fill=fill, font=font, spacing=2
        )
        return True
    if th + 2 <= bw and tw + 2 * PAD <= image.height:
        layer = Image.new("L", (int(tw), int(th)), 0)
        ImageDraw.Draw(layer).multiline_text((-left, -top), text, fill=255, font=font, spacing=2)
        layer = layer.rotate(90, expand=True)
        ink = Image.new("RGB", layer.size, fill)
        x0 = band[0] + (bw - layer.width) // 2
        image.paste(ink, (x0, image.height - PAD - layer.height), mask=layer)
        return True
    return False


def swatch_svg(
    palette: Palette,
    *,
    width: int = WIDTH,
    height: int = HEIGHT,
    equal: bool = False,
    labels: bool = True,
) -> str:
    """Draw the strip as SVG text: one ``<rect>`` per colour (exact widths) and its labels."""
    if len(palette) == 0:
        raise ValueError("the palette has no colours; expected at least one")
    x = edges(palette, width, equal=equal, integer=False)
    size = _font_size(height)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" shape-rendering="crispEdges" '
        f'font-family="ui-monospace, Menlo, Consolas, monospace" font-size="{size}">'
    ]
    for i, swatch in enumerate(palette):
        bw = x[i + 1] - x[i]
        parts.append(
            f'<rect x="{x[i]:.3f}" y="0" width="{bw:.3f}" height="{height}" fill="{swatch.hex}">'
            f"<title>{escape(swatch.hex)} {swatch.proportion:.1%}</title></rect>"
        )
        if labels:
            parts.append(_svg_label(swatch.hex, swatch.proportion, equal, x[i], bw, height, size))
    parts.append("</svg>")
    return "\n".join(p for p in parts if p) + "\n"


def _svg_label(
    hex_code: str, share: float, equal: bool, x: float, bw: float, height: int, size: int
) -> str:
    fill = text_color_for(parse_hex(hex_code))
    for lines in _label_choices(hex_code, share, equal):
        tw, th = 0.62 * size * max(map(len, lines)), 1.25 * size * len(lines)  # monospace estimate
        if tw + 2 * PAD <= bw:
            base, attrs = (x + PAD, height - PAD - th + size), ""
            break
        if th + 2 <= bw and tw + 2 * PAD <= height:
            cx, cy = x + (bw - th) / 2 + size, height - PAD
            base, attrs = (cx, cy), f' transform="rotate(-90 {cx:.3f} {cy:.3f})"'
            break
    else:
        return ""
    spans = "".join(
        f'<tspan x="{base[0]:.3f}" dy="{0 if j == 0 else 1.25 * size:g}">{escape(line)}</tspan>'
        for j, line in enumerate(lines)
    )
    return f'<text x="{base[0]:.3f}" y="{base[1]:.3f}" fill="{fill}"{attrs}>{spans}</text>'
