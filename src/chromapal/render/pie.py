"""Pie charts of palettes with matplotlib: one pie per palette, slices in the palette's colours.

Figures are built with ``matplotlib.figure.Figure`` and drawn by the Agg canvas, never
through pyplot, so no window opens whatever backend is configured.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any, Final

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Wedge
from PIL import Image

from ..palette import Palette
from .common import FIGURE_FORMATS

#: Inches per chart in a grid, and the raster resolution.
CELL: Final = 2.3
DPI: Final = 100
#: Charts per row: ten charts make a 5 x 2 grid.
MAX_COLUMNS: Final = 5
OUTLINE: Final = "#d4d4d4"  # keeps near-white slices visible on the white page


def plot_pie(palette: Palette, ax: Axes, *, title: str | None = None) -> list[Wedge]:
    """Draw `palette` as one pie in `ax`: a slice per colour, clockwise from 12 o'clock.

    Slice i spans ``360 * palette.proportions[i]`` degrees. Returns the wedges.
    """
    if len(palette) == 0:
        raise ValueError("the palette has no colours; expected at least one")
    shares = palette.proportions / palette.proportions.sum()
    wedges, *_ = ax.pie(
        shares,
        colors=[c / 255 for c in palette.colors.astype(float)],
        startangle=90,
        counterclock=False,
        wedgeprops={"linewidth": 0},
    )
    ax.add_patch(Circle((0, 0), 1.0, fill=False, edgecolor=OUTLINE, linewidth=0.8))
    ax.set_aspect("equal")
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_axis_off()
    if title is not None:
        ax.set_title(title, fontsize=12, color="#333333", pad=4)
    return list(wedges)


def grid_shape(n: int, ncols: int | None = None) -> tuple[int, int]:
    """(rows, columns) for `n` charts: at most 5 a row, so 10 gives 2 x 5."""
    cols = max(1, min(n, ncols or MAX_COLUMNS))
    return math.ceil(n / cols), cols


def plot_pies(
    palettes: Sequence[Palette],
    *,
    axes: Axes | Sequence[Axes] | np.ndarray | None = None,
    ncols: int | None = None,
    titles: Sequence[str] | None = None,
) -> Figure:
    """Draw one pie per palette, each titled ``k = <palette.k>``; return the figure.

    Parameters
    ----------
    palettes : sequence of Palette
        Typically one image's palettes for k = 1..10.
    axes : Axes or array of Axes, optional
        Where to draw (one per palette, in order; extra axes are hidden). A new
        headless figure with a grid of ``grid_shape(len(palettes), ncols)`` is made if omitted.
    ncols : int, optional
        Charts per row of the new figure; at most 5 by default.
    titles : sequence of str, optional
        One title per chart instead of ``k = ...``.
    """
    palettes = list(palettes)
    if not palettes:
        raise ValueError("no palettes to plot; expected at least one")
    if titles is not None and len(titles) != len(palettes):
        raise ValueError(f"{len(titles)} titles for {len(palettes)} palettes")
    if axes is None:
        rows, cols = grid_shape(len(palettes), ncols)
        fig = Figure(figsize=(cols * CELL, rows * (CELL + 0.15)), dpi=DPI, facecolor="white")
        fig.subplots_adjust(
            left=0.02, right=0.98, bottom=0.02, top=1 - 0.3 / (rows * CELL), wspace=0.08, hspace=0.2
        )
        axes = fig.subplots(rows, cols, squeeze=False)
    flat = list(np.ravel(np.asarray(axes, dtype=object)))
    if len(flat) < len(palettes):
        raise ValueError(
            f"{len(flat)} axes for {len(palettes)} palettes; expected one axes per palette"
        )
    for i, (palette, ax) in enumerate(zip(palettes, flat[: len(palettes)], strict=True)):
        plot_pie(palette, ax, title=titles[i] if titles is not None else _title(palette))
    for ax in flat[len(palettes) :]:
        ax.set_axis_off()
    figure = flat[0].get_figure()
    assert figure is not None
    return figure  # type: ignore[no-any-return]


def _title(palette: Palette) -> str:
    return f"k = {palette.k if palette.k is not None else len(palette)}"


#: Images per contact sheet (one row each); more make further sheets.
SHEET_ROWS: Final = 40
#: Inches per row of a contact sheet.
SHEET_ROW: Final = 1.3


def contact_sheet(rows: Sequence[tuple[str, np.ndarray, Sequence[Palette]]]) -> Figure:
    """One row per image: its thumbnail, then a pie chart of each of its palettes.

    Parameters
    ----------
    rows : sequence of (name, thumbnail, palettes)
        The image's name (shown above the thumbnail), a small (H, W, 3|4) uint8 picture of
        it, and its palettes (e.g. k = 1..10), at most `SHEET_ROWS` rows.
    """
    if not 1 <= len(rows) <= SHEET_ROWS:
        raise ValueError(f"a contact sheet holds 1 to {SHEET_ROWS} images (got {len(rows)})")
    cols = 1 + max(len(palettes) for _, _, palettes in rows)
    fig = Figure(figsize=(cols * SHEET_ROW, len(rows) * (SHEET_ROW + 0.2)), dpi=DPI, facecolor="white")
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.01, top=1 - 0.25 / (len(rows) * SHEET_ROW),
                        wspace=0.05, hspace=0.3)
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for (name, thumbnail, palettes), line in zip(rows, axes, strict=True):
        line[0].imshow(thumbnail, interpolation="lanczos")
        line[0].set_title(name if len(name) <= 24 else name[:23] + "…", fontsize=7)
        line[0].set_axis_off()
        for palette, ax in zip(palettes, line[1:], strict=False):
            plot_pie(palette, ax, title=_title(palette))
            ax.title.set_fontsize(7)
        for ax in line[1 + len(palettes):]:
            ax.set_axis_off()
    return fig


def figure_image(fig: Figure, *, dpi: float | None = None) -> Image.Image:
    """Render `fig` with the Agg canvas to an RGB PIL image."""
    canvas = FigureCanvasAgg(fig)
    if dpi is not None:
        fig.set_dpi(dpi)
    canvas.draw()
    rgba = np.asarray(canvas.buffer_rgba())
    return Image.fromarray(np.ascontiguousarray(rgba[..., :3]))


def pies_image(
    palettes: Sequence[Palette], *, ncols: int | None = None, **kwargs: Any
) -> Image.Image:
    """Render the pie grid of `palettes` as an RGB PIL image (see `plot_pies`)."""
    return figure_image(plot_pies(palettes, ncols=ncols, **kwargs))


def save_figure(fig: Figure, path: str | os.PathLike[str]) -> None:
    """Write `fig` in the format its extension names (PNG, JPEG, WebP, SVG or PDF)."""
    fmt = os.fspath(path).rsplit(".", 1)[-1].lower()
    if fmt not in FIGURE_FORMATS:
        raise ValueError(
            f"{os.fspath(path)}: unknown output format {fmt!r}; expected one of "
            f"{', '.join(FIGURE_FORMATS)}"
        )
    FigureCanvasAgg(fig)
    fig.savefig(
        path,
        format="jpeg" if fmt == "jpg" else fmt,
        facecolor="white",
        metadata=None if fmt in ("jpeg", "jpg", "webp") else {},
    )
