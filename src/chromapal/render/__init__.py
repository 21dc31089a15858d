"""Pictures of palettes: strips, pie grids, recoloured images, k sweeps and an HTML report.

Every picture is returned as a PIL image (or SVG/HTML text) and written only on request.
matplotlib is imported only when a pie chart is drawn. Recolouring is
`chromapal.render.recolor.recolor` (also `chromapal.recolor`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from ..errors import PaletteError
from ..load import MAX_PIXELS, Frames, Source
from ..palette import Palette
from ..pipeline import extract
from .common import RASTER_FORMATS, check_ks, palettes_for, parse_ks, save_image
from .report import report_html
from .swatches import swatch_image, swatch_svg
from .sweep import save_animation, sweep_frames

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "RASTER_FORMATS",
    "check_ks",
    "load_palette_file",
    "palettes_for",
    "parse_ks",
    "pies_image",
    "plot_pies",
    "report_html",
    "save_animation",
    "save_image",
    "sweep_frames",
    "swatch_image",
    "swatch_svg",
]


def plot_pies(
    source: Source | Palette | Sequence[Palette],
    ks: Iterable[int] = range(1, 11),
    *,
    axes: Axes | Sequence[Axes] | Any | None = None,
    ncols: int | None = None,
    space: str = "oklab",
    seed: int = 0,
    init: str = "median-cut",
    alpha_threshold: int = 128,
    frames: Frames = "first",
    max_pixels: int = MAX_PIXELS,
) -> Figure:
    """Draw one pie chart per k (default 1 to 10) into matplotlib axes; return the figure.

    `source` is an image (anything `chromapal.extract` takes), whose palette is found for
    every k in `ks`, or one or more `Palette` objects to draw as they are. Slices are the
    palette's colours, clockwise from 12 o'clock, each ``360 * share`` degrees, and each
    chart is titled with its k. Without `axes`, a new figure with a grid of at most 5
    charts a row is made, without pyplot (no window opens); see `pies_image`.
    """
    from .pie import plot_pies as _plot_pies

    palettes = palettes_for(
        source,
        ks,
        space=space,
        seed=seed,
        init=init,
        alpha_threshold=alpha_threshold,
        frames=frames,
        max_pixels=max_pixels,
    )
    return _plot_pies(palettes, axes=axes, ncols=ncols)


def pies_image(
    source: Source | Palette | Sequence[Palette], ks: Iterable[int] = range(1, 11), **options: Any
) -> Image.Image:
    """`plot_pies` rendered to an RGB PIL image (same arguments, except `axes`)."""
    from .pie import figure_image

    return figure_image(plot_pies(source, ks, **options))


def load_palette_file(path: str | os.PathLike[str], *, k: int = 8, **options: Any) -> Palette:
    """Read a palette from a palette file (JSON, GIMP .gpl, ...) or an image (its `k` colours).

    Palette files are read by `chromapal.export.read_palette` for every extension it knows
    except ``.svg`` (more likely a picture here); any other file is taken as an image and its
    palette extracted with `k` and `options` (see `chromapal.extract`).

    Raises
    ------
    chromapal.export.PaletteFileError
        If a palette file is not laid out as its format says or holds no colour.
    """
    from ..export import format_for_path, read_palette

    try:
        fmt = None if Path(path).suffix.lower() == ".svg" else format_for_path(Path(path))
    except PaletteError:
        fmt = None
    if fmt is not None:
        return read_palette(Path(path), fmt)
    return extract(path, k, **options)
