"""A one-page HTML report: the image, its palette, the pie grid and the recoloured image.

The page is self-contained: pictures are embedded as data URIs and the palette strip
as inline SVG, so the single file can be mailed or archived.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable
from typing import Final

import numpy as np
from PIL import Image

from ..assign import measure_palette
from ..load import DRAFT_ABOVE, MAX_PIXELS, Frames, Source, load_image
from ..palette import Palette
from ..pipeline import MAX_ERROR, extract_palette
from .common import check_ks, fit_side
from .recolor import recolor_pixels
from .swatches import swatch_svg

#: Longest side of the pictures shown in the report.
MAX_SIDE: Final = 900

_CSS: Final = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#222;margin:0;
  background:#f6f6f4}
main{max-width:1280px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px;word-break:break-all}h2{font-size:17px;margin:28px 0 10px}
.meta{color:#666;margin:0 0 18px}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(320px,1fr));gap:16px}
figure{margin:0;background:#fff;padding:10px;border-radius:6px;box-shadow:0 1px 3px #0002}
figure img,figure svg{display:block;width:100%;height:auto}
figcaption{color:#555;font-size:13px;margin-top:6px}
table{border-collapse:collapse;background:#fff;border-radius:6px;box-shadow:0 1px 3px #0002}
td,th{padding:6px 14px;text-align:left;font-variant-numeric:tabular-nums}
th{font-weight:600;color:#555}
td.chip{width:42px;padding:0}td.hex{font-family:ui-monospace,Menlo,Consolas,monospace}
tr+tr td{border-top:1px solid #eee}
.checker{background:repeating-conic-gradient(#ddd 0 25%,#fff 0 50%) 0 0/16px 16px}
"""

_PAGE: Final = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="generator" content="chromapal"><title>Palette of {name}</title>
<style>{css}</style></head>
<body><main>
<h1>Palette of {name}</h1>
<p class="meta">{meta}</p>
<div class="pair">
<figure><img class="checker" src="{image}" alt="the image">
<figcaption>The image</figcaption></figure>
<figure><img class="checker" src="{flat}" alt="the image in its {n} palette colours">
<figcaption>Flattened to its {n} colours{dithered}: the shares below are its pixel counts</figcaption></figure>
</div>
<h2>Palette</h2>
<figure>{strip}</figure>
<p></p>
{table}
<h2>Colour schemes for k = {pie_ks}</h2>
<figure><img src="{pies}" alt="pie charts of the palettes"></figure>
</main></body></html>
"""


def data_uri(image: Image.Image) -> str:
    """`image` as a data URI: PNG for palette-mode or transparent images, JPEG for photos."""
    buffer = io.BytesIO()
    if image.mode in ("P", "RGBA", "LA", "PA", "1", "L"):
        image.save(buffer, format="PNG", optimize=True)
        kind = "png"
    else:
        image.convert("RGB").save(buffer, format="JPEG", quality=88)
        kind = "jpeg"
    return f"data:image/{kind};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def report_html(
    source: Source,
    *,
    k: int = 8,
    pie_ks: Iterable[int] = range(1, 11),
    dither: bool = False,
    space: str = "oklab",
    seed: int = 0,
    init: str = "median-cut",
    max_error: float = MAX_ERROR,
    alpha_threshold: int = 128,
    frames: Frames = "first",
    max_pixels: int = MAX_PIXELS,
    max_side: int | None = MAX_SIDE,
    title: str | None = None,
) -> str:
    """Return the report page for `source` as HTML text (see the module docstring).

    The palette has `k` colours; the pie grid shows one pie per k in `pie_ks`.
    Palettes are those `chromapal.extract` finds; pictures are scaled to `max_side`.
    """
    from .pie import pies_image  # matplotlib only when a report is made

    loaded = load_image(
        source, frames=frames, max_pixels=max_pixels, draft_above=DRAFT_ABOVE, upright=True
    )
    options = {
        "space": space,
        "seed": seed,
        "init": init,
        "max_error": max_error,
        "alpha_threshold": alpha_threshold,
        "source": loaded.name,
    }
    palette = extract_palette(loaded.pixels, k=k, **options)  # type: ignore[arg-type]
    pies = [extract_palette(loaded.pixels, k=j, **options) for j in check_ks(pie_ks)]  # type: ignore[arg-type]
    shown = fit_side(Image.fromarray(loaded.pixels), max_side)
    shown_pixels = np.asarray(shown)
    flat = recolor_pixels(shown_pixels, palette, dither=dither, alpha_threshold=alpha_threshold)
    # the table's shares and error are those of the flattened picture beside it, exactly
    palette = measure_palette(shown_pixels, palette, alpha_threshold=alpha_threshold)
    h, w = loaded.pixels.shape[:2]
    meta = f"{w}&times;{h} pixels &middot; k = {k} &middot; {len(palette)} colour{'' if len(palette) == 1 else 's'} &middot; "
    meta += f"k-means in {html.escape(palette.space)}"
    meta += f" &middot; mean &Delta;E2000 {palette.delta_e:.2f} (of the flattened picture)"
    meta += f" &middot; {html.escape(palette.note)}" if palette.note else ""
    return _PAGE.format(
        name=html.escape(title or loaded.name),
        css=_CSS,
        meta=meta,
        image=data_uri(shown),
        flat=data_uri(flat),
        n=len(palette),
        dithered=" (dithered)" if dither else "",
        strip=swatch_svg(palette, width=1200, height=120),
        table=_palette_table(palette),
        pie_ks=", ".join(str(p.k) for p in pies),
        pies=data_uri(pies_image(pies)),
    )


def _palette_table(palette: Palette) -> str:
    rows = "\n".join(
        f'<tr><td class="chip" style="background:{s.hex}"></td><td class="hex">{s.hex}</td>'
        f"<td>{s.rgb[0]}, {s.rgb[1]}, {s.rgb[2]}</td><td>{s.proportion:.1%}</td></tr>"
        for s in palette
    )
    return f"<table><tr><th></th><th>hex</th><th>RGB</th><th>share</th></tr>\n{rows}\n</table>"
