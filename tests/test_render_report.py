"""Tests of the HTML report: self-contained, every hex code, the embedded pictures."""

from __future__ import annotations

import base64
import io
import re
from html.parser import HTMLParser

import numpy as np
from PIL import Image

from chromapal import extract
from chromapal.render import report_html


def gradient(width: int = 60, height: int = 40) -> np.ndarray:
    """Make a colourful gradient: many distinct colours."""
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack(
        [x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)]
    ).astype(np.uint8)


class Images(HTMLParser):
    """Collects the src of every <img>."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        """Remember image sources."""
        if tag == "img":
            self.sources.append(dict(attrs)["src"] or "")


def decode(uri: str) -> Image.Image:
    """Open a base64 data URI as a PIL image."""
    header, data = uri.split(",", 1)
    assert re.fullmatch(r"data:image/(png|jpeg);base64", header)
    return Image.open(io.BytesIO(base64.b64decode(data)))


def test_report_holds_every_hex_code_and_its_pictures():
    """The page lists each colour's hex code and share and embeds image, recolouring and pies."""
    image = gradient(120, 80)
    page = report_html(image, k=5, pie_ks=[1, 2, 3])
    palette = extract(image, 5)
    for swatch in palette:
        assert swatch.hex in page
        assert f"{swatch.proportion:.1%}" in page
    parser = Images()
    parser.feed(page)
    original, flat, pies = (decode(src) for src in parser.sources)
    assert original.size == flat.size == (120, 80)
    assert flat.mode == "P"
    assert {tuple(c) for c in np.asarray(flat.convert("RGB")).reshape(-1, 3)} == set(
        map(tuple, palette.colors)
    )
    assert pies.width > pies.height  # three pies side by side
    assert page.count("<rect") == len(palette)  # the inline SVG strip


def test_report_needs_nothing_from_outside():
    """No external scripts, styles or images: only data URIs and inline SVG."""
    page = report_html(gradient(), k=3, pie_ks=[2])
    refs = re.findall(r'(?:src|href)="([^"]*)"', page)
    assert refs and all(r.startswith("data:") for r in refs)
    assert "<script" not in page
