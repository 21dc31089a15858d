"""Render ``chromapal theme tests/data/kodim23.png --preview`` (dark, light) as theme-preview.png.

Run from the repository root: ``.venv/bin/python docs/img/theme_preview.py [-o FILE]``. Uses the
DejaVu Sans Mono font that matplotlib ships.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
from PIL import Image, ImageDraw, ImageFont
from rich.console import Console
from rich.style import Style
from rich.text import Text

from chromapal import cli  # noqa: F401 - loads the CLI modules in their order
from chromapal.theme_preview import preview_lines
from chromapal.pipeline import extract
from chromapal.theme import make_theme

FONTS = Path(matplotlib.get_data_path()) / "fonts" / "ttf"  # DejaVu ships with matplotlib
FONT = FONTS / "DejaVuSansMono.ttf"
BOLD = FONTS / "DejaVuSansMono-Bold.ttf"
SIZE, CELL_W, CELL_H = 15, 9, 19


def draw_line(
    draw: ImageDraw.ImageDraw, y: int, line: Text, fonts: dict[bool, ImageFont.FreeTypeFont]
) -> None:
    """Draw one rich Text line cell by cell with its foreground and background colours."""
    x = 0
    for span_text, style in _segments(line):
        fg = style.color.get_truecolor() if style.color else (255, 255, 255)
        bg = style.bgcolor.get_truecolor() if style.bgcolor else (0, 0, 0)
        width = CELL_W * len(span_text)
        draw.rectangle([x, y, x + width, y + CELL_H], fill=tuple(bg))
        draw.text((x, y + 1), span_text, fill=tuple(fg), font=fonts[bool(style.bold)])
        x += width


def _segments(line: Text) -> list[tuple[str, Style]]:
    """`line` split into runs of one style."""
    console = Console(width=200, color_system="truecolor")
    return [(seg.text, seg.style or Style()) for seg in line.render(console) if seg.text]


def main(out: Path) -> None:
    """Write the preview picture to `out`."""
    palette = extract("tests/data/kodim23.png", k=8)
    lines = [
        *preview_lines(make_theme(palette, name="kodim23")),
        *preview_lines(make_theme(palette, light=True, name="kodim23")),
    ]
    fonts = {False: ImageFont.truetype(FONT, SIZE), True: ImageFont.truetype(BOLD, SIZE)}
    width = CELL_W * max(len(line) for line in lines)
    image = Image.new("RGB", (width, CELL_H * len(lines)), "black")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw_line(draw, i * CELL_H, line, fonts)
    image.save(out, optimize=True)


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="Draw the README's theme preview picture.")
    parser.add_argument("-o", "--output", type=Path, default=Path(__file__).with_name("theme-preview.png"))
    main(parser.parse_args().output)
