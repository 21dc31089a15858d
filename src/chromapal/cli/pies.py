"""The ``pies`` command: one pie chart of an image's palette per k."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..palette import Palette
from ..render.common import FIGURE_FORMATS
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

PIE_FORMATS = sorted(FIGURE_FORMATS)


@click.command("pies", cls=OneLineCommand)
@click.argument("image")
@output_option(PIE_FORMATS, required=False)
@click.option(
    "-k",
    "--k",
    "ks",
    type=KRange(),
    default="1-10",
    show_default=True,
    help="The k values: one pie chart each, e.g. 1-10 or 2,4,8.",
)
@click.option(
    "--separate",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per k into DIR (pie-k01.png, ...) instead of one grid.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(PIE_FORMATS),
    default="png",
    show_default=True,
    help="File format with --separate.",
)
@click.option(
    "--columns", type=click.IntRange(1, 20), default=None, help="Charts per row (default: up to 5)."
)
@cluster_options
@handle_errors
def pies_command(
    image: str,
    output: str | None,
    ks: list[int],
    separate: Path | None,
    fmt: str,
    columns: int | None,
    **options: Any,
) -> None:
    """Draw one pie chart of IMAGE's palette per k, in a grid (5 x 2 for k = 1-10)."""
    from ..render.pie import plot_pies, save_figure

    timeout = deadline_for(image, options.pop("timeout"))
    if (output is None) == (separate is None):
        raise click.UsageError("give either -o/--output FILE or --separate DIR")
    if separate is not None:
        try:
            separate.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.UsageError(f"{separate}: cannot create the folder ({exc.strerror})") from exc
        targets = [
            output_path(str(separate / f"pie-k{k:02d}.{fmt}"), allowed=PIE_FORMATS, inputs=[image])
            for k in ks
        ]
    else:
        targets = [output_path(str(output), allowed=PIE_FORMATS, inputs=[image])]
    with user_errors(image):
        palettes = within_deadline(
            display_name(image), timeout, _palettes, image, ks, timeout, options
        )
    note(palettes[-1])
    figures = (
        [plot_pies(palettes, ncols=columns)]
        if separate is None
        else [plot_pies([p]) for p in palettes]
    )
    for figure, target in zip(figures, targets, strict=True):
        with writing(target) as temporary:
            save_figure(figure, temporary)


def _palettes(
    image: str, ks: list[int], timeout: float | None, options: dict[str, Any]
) -> list[Palette]:
    from ..render import palettes_for

    return palettes_for(source_of(image, timeout), ks, **options)
