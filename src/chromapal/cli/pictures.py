"""The picture commands ``swatch`` and ``recolor``.

Each parses, calls `chromapal.render`, writes the file its ``-o`` names (format from the
extension) and turns every problem into one line (`chromapal.cli.common`).
"""

from __future__ import annotations

from typing import Any

import click
from click.core import ParameterSource

from ..palette import Palette
from ..pipeline import extract
from ..render import RASTER_FORMATS, load_palette_file, save_image, swatch_image, swatch_svg
from ..render.recolor import recolor
from .common import (
    deadline_for,
    display_name,
    extract_options,
    handle_errors,
    note,
    OneLineCommand,
    output_option,
    output_path,
    palette_for,
    source_of,
    user_errors,
    within_deadline,
    writing,
)

SWATCH_FORMATS = sorted([*RASTER_FORMATS, "svg"])


@click.command("swatch", cls=OneLineCommand)
@click.argument("image")
@output_option(SWATCH_FORMATS)
@extract_options
@click.option(
    "--equal", is_flag=True, help="Equal widths instead of widths proportional to the shares."
)
@click.option(
    "--width",
    type=click.IntRange(16, 20000),
    default=960,
    show_default=True,
    help="Width in pixels.",
)
@click.option(
    "--height",
    type=click.IntRange(8, 20000),
    default=160,
    show_default=True,
    help="Height in pixels.",
)
@click.option(
    "--labels/--no-labels",
    default=True,
    show_default=True,
    help="Hex codes (and shares) on the colours.",
)
@handle_errors
def swatch_command(
    image: str, output: str, equal: bool, width: int, height: int, labels: bool, **options: Any
) -> None:
    """Draw the palette of IMAGE as a strip of colours (PNG, SVG, ...)."""
    out = output_path(output, allowed=SWATCH_FORMATS, inputs=[image])
    palette = palette_for(image, **options)
    note(palette)
    if width < len(palette):
        raise click.UsageError(f"--width {width} is too narrow for {len(palette)} colours")
    with writing(out) as temporary:
        if out.suffix.lower() == ".svg":
            temporary.write_text(
                swatch_svg(palette, width=width, height=height, equal=equal, labels=labels),
                encoding="utf-8",
            )
        else:
            save_image(
                swatch_image(palette, width=width, height=height, equal=equal, labels=labels),
                temporary,
            )


@click.command("recolor", cls=OneLineCommand)
@click.argument("image")
@output_option(sorted(RASTER_FORMATS))
@extract_options
@click.option(
    "--dither", is_flag=True, help="Floyd-Steinberg error diffusion instead of flat areas."
)
@click.option(
    "--palette",
    "palette_file",
    metavar="FILE",
    type=click.Path(exists=True, dir_okay=False),
    help="Recolour with the palette of FILE: another image (its -k colours) or a palette file "
    "(.json, .gpl, ...).",
)
@click.pass_context
@handle_errors
def recolor_command(
    ctx: click.Context,
    image: str,
    output: str,
    dither: bool,
    palette_file: str | None,
    **options: Any,
) -> None:
    """Redraw IMAGE with every pixel in its palette colour: a flattened, indexed image."""
    timeout = deadline_for(image, options.pop("timeout"))
    inputs = [image] + ([palette_file] if palette_file else [])
    out = output_path(output, allowed=RASTER_FORMATS, inputs=inputs)
    explicit_space = ctx.get_parameter_source("space") != ParameterSource.DEFAULT
    palette = None
    if palette_file:
        with user_errors(palette_file):
            palette = within_deadline(
                palette_file, timeout, load_palette_file, palette_file, **options
            )
    with user_errors(image):
        palette, picture = within_deadline(
            display_name(image), timeout, _recolored, image, palette, timeout, options, dither,
            explicit_space,
        )
    note(palette)
    with writing(out) as temporary:
        save_image(picture, temporary)


def _recolored(
    image: str,
    palette: Palette | None,
    timeout: float | None,
    options: dict[str, Any],
    dither: bool,
    explicit_space: bool,
) -> tuple[Palette, Any]:
    """The palette (extracted unless given) and the recoloured picture of IMAGE."""
    source = source_of(image, timeout)
    if palette is None:
        palette = extract(source, **options)
    picture = recolor(
        source,
        palette,
        dither=dither,
        space=options["space"] if explicit_space else None,
        alpha_threshold=options["alpha_threshold"],
        max_pixels=options["max_pixels"],
    )
    return palette, picture
