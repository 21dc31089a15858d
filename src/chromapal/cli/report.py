"""The ``sweep`` and ``report`` commands: an animation over k, and a one-page HTML report.

Like the other picture commands (`chromapal.cli.pictures`): the work on the image runs
with decoders silenced and under ``--timeout``; files are written whole or not at all.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .common import (
    KRange,
    OneLineCommand,
    cluster_options,
    deadline_for,
    display_name,
    extract_options,
    handle_errors,
    needs_extra,
    output_option,
    source_of,
    user_errors,
    within_deadline,
    writing,
)
from .defaults import ANIMATION_FORMATS
from .defaults import SWEEP_DURATION as DURATION
from .defaults import SWEEP_HOLD as HOLD
from .defaults import SWEEP_MAX_SIDE as MAX_SIDE
from .inputs import plan, run_each

REPORT_FORMATS = ["htm", "html"]


@click.command("sweep", cls=OneLineCommand)
@click.argument("images", metavar="IMAGES...", nargs=-1, required=True)
@output_option(list(ANIMATION_FORMATS))
@click.option(
    "-k",
    "--k",
    "ks",
    type=KRange(),
    default="2-15",
    show_default=True,
    help="The k values, one frame each, e.g. 2-15 or 2,4,8,16.",
)
@click.option(
    "--duration",
    type=click.IntRange(10, 60000),
    default=DURATION,
    show_default=True,
    help="Milliseconds per frame.",
)
@click.option(
    "--hold",
    type=click.IntRange(10, 60000),
    default=HOLD,
    show_default=True,
    help="Milliseconds on the last frame, the original.",
)
@click.option(
    "--loop/--no-loop", default=True, show_default=True, help="Loop forever, or play once."
)
@click.option(
    "--max-side",
    type=click.IntRange(0),
    default=MAX_SIDE,
    show_default=True,
    help="Scale frames down to this longest side; 0 keeps the full size.",
)
@click.option("--dither", is_flag=True, help="Floyd-Steinberg error diffusion in each frame.")
@cluster_options
@handle_errors
def sweep_command(
    images: tuple[str, ...],
    output: str,
    ks: list[int],
    duration: int,
    hold: int,
    loop: bool,
    max_side: int,
    dither: bool,
    **options: Any,
) -> None:
    """Animate IMAGE recoloured with k = 2, 3, ... colours, ending on the original (a GIF)."""
    timeout = options.pop("timeout")
    pairs = dict(plan(images, output, allowed=ANIMATION_FORMATS, fmt="gif"))

    def one(image: str) -> None:
        from ..render import save_animation

        limit = deadline_for(image, timeout)
        with user_errors(image):
            frames = within_deadline(
                display_name(image), limit, _sweep, image, ks, limit, max_side or None, dither, options
            )
        with writing(pairs[image]) as temporary:
            save_animation(frames, temporary, duration=duration, hold=hold, loop=loop)

    if run_each(list(pairs), one):
        sys.exit(1)


def _sweep(
    image: str,
    ks: list[int],
    timeout: float | None,
    max_side: int | None,
    dither: bool,
    options: dict[str, Any],
) -> Any:
    from ..render import sweep_frames

    return sweep_frames(
        source_of(image, timeout), ks, max_side=max_side, dither=dither, **options
    )


@click.command("report", cls=OneLineCommand)
@click.argument("images", metavar="IMAGES...", nargs=-1, required=True)
@output_option(REPORT_FORMATS)
@extract_options
@click.option(
    "--pies",
    "pie_ks",
    type=KRange(),
    default="1-10",
    show_default=True,
    help="The k values of the pie grid.",
)
@click.option("--dither", is_flag=True, help="Dither the recoloured image.")
@click.option(
    "--max-side",
    type=click.IntRange(0),
    default=900,
    show_default=True,
    help="Longest side of the pictures in the page; 0 keeps the full size.",
)
@handle_errors
def report_command(
    images: tuple[str, ...], output: str, pie_ks: list[int], dither: bool, max_side: int, **options: Any
) -> None:
    """Write one self-contained HTML page: IMAGE, its palette, pie grid and recoloured image."""
    timeout = options.pop("timeout")
    pairs = dict(plan(images, output, allowed=REPORT_FORMATS, fmt="html"))
    needs_extra("matplotlib", "charts", "chromapal report")  # the page's pie grid

    def one(image: str) -> None:
        limit = deadline_for(image, timeout)
        page_options = {
            "pie_ks": pie_ks,
            "dither": dither,
            "max_side": max_side or None,
            "title": None if image == "-" else Path(image).name,
            **options,
        }
        with user_errors(image):
            page = within_deadline(display_name(image), limit, _report, image, limit, page_options)
        with writing(pairs[image]) as temporary:
            temporary.write_text(page, encoding="utf-8")

    if run_each(list(pairs), one):
        sys.exit(1)


def _report(image: str, timeout: float | None, options: dict[str, Any]) -> str:
    from ..render import report_html

    return report_html(source_of(image, timeout), **options)
