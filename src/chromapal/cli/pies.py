"""The ``pies`` command: one pie chart of each image's palette per k, and the palettes as JSON.

``chromapal pies IMAGE -o grid.png`` draws one image's grid. ``chromapal pies
PANELS_DIR_OR_FILES... -k 1-10 -o out/`` writes, for every image, ``out/STEM/pies.png``
(the grid) and ``out/STEM/colors.json`` (the palette for every k: colours, shares and
the mean CIEDE2000 error ``delta_e``, the JSON ``chromapal IMAGE -k 1-10 --json``
prints), decoding each image once; then ``out/contact-sheet.png``, one row per image
(more than `chromapal.render.pie.SHEET_ROWS` images: ``contact-sheet-01.png``, ...).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .common import (
    KRange,
    OneLineCommand,
    cluster_options,
    deadline_for,
    display_name,
    handle_errors,
    note,
    output_option,
    output_path,
    source_of,
    user_errors,
    within_deadline,
    writing,
)
from .defaults import FIGURE_FORMATS
from .inputs import expand_images, is_single, output_folder, targets

PIE_FORMATS = sorted(FIGURE_FORMATS)
#: Longest side of an image's thumbnail on the contact sheet, in pixels.
THUMBNAIL_SIDE = 160


@dataclass
class _Count:
    """Progress of the run, as `chromapal.cli.progress.Reporter` reads it."""

    done: int = 0
    failed: int = 0

    @property
    def finished(self) -> int:
        return self.done + self.failed


@click.command("pies", cls=OneLineCommand)
@click.argument("images", metavar="IMAGES...", nargs=-1, required=True)
@output_option(PIE_FORMATS, required=False)
@click.option("-k", "--k", "ks", type=KRange(), default="1-10", show_default=True,
              help="The k values: one pie chart each, e.g. 1-10 or 2,4,8.")
@click.option("--separate", metavar="DIR", type=click.Path(file_okay=False, path_type=Path),
              help="One image: write one file per k into DIR (pie-k01.png, ...) instead of one grid.")
@click.option("--format", "fmt", type=click.Choice(PIE_FORMATS), default="png", show_default=True,
              help="File format with --separate or an -o folder.")
@click.option("--columns", type=click.IntRange(1, 20), default=None, help="Charts per row (default: up to 5).")
@click.option("--progress/--no-progress", "show_progress", default=True, show_default=True,
              help="With several images: a progress bar (plain lines when not a terminal).")
@cluster_options
@handle_errors
def pies_command(
    images: tuple[str, ...], output: str | None, ks: list[int], separate: Path | None, fmt: str,
    columns: int | None, show_progress: bool, **options: Any,
) -> None:
    """Draw one pie chart of IMAGE's palette per k, in a grid (5 x 2 for k = 1-10).

    With several images, folders or globs, -o names a folder: per image STEM/pies.png and
    STEM/colors.json (the palettes for every k, with shares and error), and one
    contact-sheet.png for all of them.
    """
    if (output is None) == (separate is None):
        raise click.UsageError("give either -o/--output FILE|DIR or --separate DIR")
    folder_given = output is not None and (output.endswith("/") or Path(output).is_dir())
    if is_single(images) and not folder_given:
        _one_image(images[0], output, separate, ks, fmt, columns, options)
        return
    if separate is not None:
        raise click.UsageError("--separate takes one IMAGE; with several, give -o DIR")
    assert output is not None
    _many_images(images, output, ks, fmt, columns, show_progress, options)


def _one_image(
    image: str, output: str | None, separate: Path | None, ks: list[int], fmt: str, columns: int | None,
    options: dict[str, Any],
) -> None:
    """One image: its grid in -o FILE, or one file per k in --separate DIR."""
    if separate is not None:
        try:
            separate.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.UsageError(f"{separate}: cannot create the folder ({exc.strerror})") from exc
        files = [output_path(str(separate / f"pie-k{k:02d}.{fmt}"), allowed=PIE_FORMATS, inputs=[image]) for k in ks]
    else:
        files = [output_path(str(output), allowed=PIE_FORMATS, inputs=[image])]
    _check_charts()
    palettes, _ = _palettes_of(image, ks, options, thumbnail=False)
    from ..render.pie import plot_pies, save_figure

    figures = [plot_pies(palettes, ncols=columns)] if separate is None else [plot_pies([p]) for p in palettes]
    for figure, target in zip(figures, files, strict=True):
        with writing(target) as temporary:
            save_figure(figure, temporary)


def _many_images(
    images: tuple[str, ...], output: str, ks: list[int], fmt: str, columns: int | None, show_progress: bool,
    options: dict[str, Any],
) -> None:
    """Several images: STEM/pies.FMT and STEM/colors.json each, and the contact sheet(s)."""
    from .progress import Reporter

    found = expand_images(images)
    folder = output_folder(output)
    _check_charts()
    from ..palette import dumps_palettes
    from ..render.pie import plot_pies, save_figure

    rows: list[tuple[str, Any, list[Any]]] = []
    count = _Count()
    reporter = Reporter(len(found), enabled=show_progress and len(found) > 1, label="pies")
    try:
        for image, place in targets(found, folder, ""):
            try:
                palettes, thumbnail = _palettes_of(image, ks, options, thumbnail=True)
                place.mkdir(exist_ok=True)
                with writing(place / f"pies.{fmt}") as temporary:
                    save_figure(plot_pies(palettes, ncols=columns), temporary)
                with writing(place / "colors.json") as temporary:
                    temporary.write_text(dumps_palettes([p.to_dict() for p in palettes]) + "\n", encoding="utf-8")
            except click.ClickException as exc:
                click.echo(f"Error: {exc.format_message()}", err=True)
                count.failed += 1
            except OSError as exc:
                click.echo(f"Error: {place}: cannot write ({exc.strerror or exc})", err=True)
                count.failed += 1
            else:
                rows.append((place.name, thumbnail, palettes))
                count.done += 1
            reporter(count)
    finally:
        reporter.close()
    _write_sheets(rows, folder, fmt)
    if count.failed:
        sys.exit(1)


def _write_sheets(rows: list[tuple[str, Any, list[Any]]], folder: Path, fmt: str) -> None:
    """contact-sheet.FMT, or contact-sheet-01.FMT, ... of `SHEET_ROWS` images each."""
    from ..render.pie import SHEET_ROWS, contact_sheet, save_figure

    chunks = [rows[i : i + SHEET_ROWS] for i in range(0, len(rows), SHEET_ROWS)]
    for number, chunk in enumerate(chunks, 1):
        name = "contact-sheet" if len(chunks) == 1 else f"contact-sheet-{number:02d}"
        with writing(folder / f"{name}.{fmt}") as temporary:
            save_figure(contact_sheet(chunk), temporary)


def _check_charts() -> None:
    """The pie charts need matplotlib (the 'charts' extra): say so before any work."""
    from .common import needs_extra

    needs_extra("matplotlib", "charts", "chromapal pies")


def _palettes_of(image: str, ks: list[int], options: dict[str, Any], *, thumbnail: bool) -> tuple[list[Any], Any]:
    """IMAGE's palette for every k (with delta_e) and, if asked, a thumbnail: one decode, under the deadline."""
    options = dict(options)
    limit = deadline_for(image, options.pop("timeout"))
    with user_errors(image):
        palettes, small = within_deadline(display_name(image), limit, _decode_once, image, ks, limit, thumbnail, options)
    note(palettes[-1])
    return palettes, small


def _decode_once(
    image: str, ks: list[int], timeout: float | None, thumbnail: bool, options: dict[str, Any]
) -> tuple[list[Any], Any]:
    import numpy as np
    from PIL import Image

    from ..load import DRAFT_ABOVE, load_image
    from ..many import many_from_pixels
    from ..render.common import fit_side

    frames, max_pixels = options.pop("frames"), options.pop("max_pixels")
    loaded = load_image(source_of(image, timeout), frames=frames, max_pixels=max_pixels, draft_above=DRAFT_ABOVE)
    name = display_name(image) if loaded.name == "<bytes>" else loaded.name
    palettes = many_from_pixels(loaded.pixels, ks, source=name, delta_e=True, **options)
    small = np.asarray(fit_side(Image.fromarray(loaded.pixels), THUMBNAIL_SIDE)) if thumbnail else None
    return palettes, small
