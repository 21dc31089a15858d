"""Tests of the pie charts: slice angles and colours, grid layout, headless drawing."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.patches import Wedge

import chromapal
from chromapal import Palette
from chromapal.render.pie import figure_image, plot_pies, save_figure

PALETTE = Palette(
    [(230, 57, 70), (29, 53, 87), (241, 250, 238), (69, 123, 157)], [0.5, 0.25, 0.15, 0.1], k=4
)


def wedges(ax) -> list[Wedge]:
    """Return the pie slices drawn in `ax`, in drawing order."""
    return [p for p in ax.patches if isinstance(p, Wedge)]


def test_slice_angles_and_colours_match_the_shares():
    """Slice i spans 360 x share_i degrees, clockwise from 12 o'clock, in colour i."""
    fig = plot_pies([PALETTE])
    slices = wedges(fig.axes[0])
    spans = [(w.theta2 - w.theta1) % 360 for w in slices]
    assert spans == pytest.approx([360 * s for s in PALETTE.proportions], abs=1e-6)
    assert slices[0].theta2 == pytest.approx(90)  # starts at 12 o'clock, goes clockwise
    colors = [tuple(round(255 * c) for c in w.get_facecolor()[:3]) for w in slices]
    assert colors == [tuple(c) for c in PALETTE.colors.tolist()]


def test_rendered_pixels_show_the_shares():
    """Read back from the rendered image, each colour covers its share of a ring."""
    fig = plot_pies([PALETTE])
    image = np.asarray(figure_image(fig)).astype(int)
    ax = fig.axes[0]
    cx, cy = ax.transData.transform((0, 0))
    radius = ax.transData.transform((0.6, 0))[0] - cx
    angles = np.linspace(0, 2 * np.pi, 3600, endpoint=False)
    xs = np.rint(cx + radius * np.cos(angles)).astype(int)
    ys = np.rint(image.shape[0] - (cy + radius * np.sin(angles))).astype(int)
    samples = image[ys, xs]
    for color, share in zip(PALETTE.colors, PALETTE.proportions, strict=True):
        covered = np.mean(np.abs(samples - color).sum(-1) <= 3)
        assert covered == pytest.approx(share, abs=0.005)


def test_ten_palettes_make_a_five_by_two_grid_titled_with_k():
    """K = 1..10 gives 10 charts in 2 rows of 5, each titled with its k and with k slices."""
    image = np.zeros((6, 8, 3), np.uint8)
    image[:, :, 0] = np.arange(48).reshape(6, 8) * 5  # 48 distinct colours
    fig = chromapal.plot_pies(image, range(1, 11))
    axes = fig.axes
    assert len(axes) == 10
    rows = {round(ax.get_position().y0, 3) for ax in axes}
    cols = {round(ax.get_position().x0, 3) for ax in axes}
    assert (len(rows), len(cols)) == (2, 5)
    assert [ax.get_title() for ax in axes] == [f"k = {k}" for k in range(1, 11)]
    assert [len(wedges(ax)) for ax in axes] == list(range(1, 11))


def test_drawing_into_the_callers_axes():
    """Given axes, the pies go there and their figure is returned; spare axes are hidden."""
    fig = Figure()
    axes = fig.subplots(1, 3)
    assert chromapal.plot_pies([PALETTE, PALETTE], axes=axes) is fig
    assert [len(wedges(ax)) for ax in axes] == [4, 4, 0]
    assert not axes[2].axison


def test_too_few_axes_is_an_error():
    """Fewer axes than palettes is a ValueError saying how many are needed."""
    with pytest.raises(ValueError, match="1 axes for 2 palettes"):
        plot_pies([PALETTE, PALETTE], axes=Figure().subplots())


def test_svg_and_pdf_are_written(tmp_path):
    """The format follows the extension: SVG text and a PDF file."""
    fig = plot_pies([PALETTE])
    save_figure(fig, tmp_path / "p.svg")
    save_figure(fig, tmp_path / "p.pdf")
    assert (tmp_path / "p.svg").read_text().lstrip().startswith("<?xml")
    assert (tmp_path / "p.pdf").read_bytes()[:5] == b"%PDF-"
    with pytest.raises(ValueError, match="unknown output format 'bmp'"):
        save_figure(fig, tmp_path / "p.bmp")


def test_importing_chromapal_loads_neither_matplotlib_nor_pyplot():
    """`import chromapal` stays light, and drawing pies never imports pyplot (no window)."""
    code = (
        "import sys, chromapal; assert 'matplotlib' not in sys.modules;"
        "from chromapal import Palette; chromapal.plot_pies([Palette([[1, 2, 3]], [1.0])]);"
        "assert 'matplotlib.pyplot' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_contact_sheet_has_a_row_per_image_thumbnail_first():
    """contact_sheet: per row the thumbnail (named), then one pie per palette with its slices."""
    from chromapal.render.pie import contact_sheet

    two = Palette([(230, 57, 70), (29, 53, 87)], [0.6, 0.4], k=2)
    thumb = np.zeros((12, 20, 3), np.uint8)
    thumb[:, :10] = (230, 57, 70)
    fig = contact_sheet([("first", thumb, [PALETTE, two]), ("second", thumb, [two])])
    axes = fig.axes
    assert len(axes) == 6  # 2 rows x (thumbnail + 2 pies)
    assert axes[0].get_title() == "first" and len(axes[0].images) == 1
    assert [len(wedges(ax)) for ax in axes[1:3]] == [4, 2]
    assert axes[3].get_title() == "second" and [len(wedges(ax)) for ax in axes[4:]] == [2, 0]
    assert axes[1].get_title() == "k = 4" and not axes[5].axison
    picture = np.asarray(figure_image(fig))
    assert (picture == (230, 57, 70)).all(axis=-1).any()  # the thumbnail's and the pies' red is drawn
    with pytest.raises(ValueError, match="holds 1 to"):
        contact_sheet([])
