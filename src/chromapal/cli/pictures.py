"""The picture commands ``swatch`` and ``recolor``.

Each takes one image and ``-o FILE`` (format from the extension), or several images,
folders, globs or @lists and ``-o DIR`` (see `chromapal.cli.inputs`); it calls
`chromapal.render` and turns every problem into one line (`chromapal.cli.common`).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource

from .common import (
    OneLineCommand,
    deadline_for,
    display_name,
    extract_options,
    format_option,
    handle_errors,
    note,
    output_option,
    palette_for,
    source_of,
    user_errors,
    within_deadline,
    writing,
)
from .defaults import RASTER_FORMATS
from .inputs import plan, run_each
from .output import print_palettes

if TYPE_CHECKING:
    from ..palette import Palette

SWATCH_FORMATS = sorted([*RASTER_FORMATS, "svg"])


@click.command("swatch", cls=OneLineCommand)
@click.argument("images", metavar="IMAGES...", nargs=-1, required=True)
@output_option(SWATCH_FORMATS)
@format_option(SWATCH_FORMATS, "png")
@extract_options
@click.option("--equal", is_flag=True, help="Equal widths instead of widths proportional to the shares.")
@click.option("--width", type=click.IntRange(16, 20000), default=960, show_default=True, help="Width in pixels.")
@click.option("--height", type=click.IntRange(8, 20000), default=160, show_default=True, help="Height in pixels.")
@click.option("--labels/--no-labels", default=True, show_default=True, help="Hex codes (and shares) on the colours.")
@handle_errors
def swatch_command(
    images: tuple[str, ...], output: str, fmt: str, equal: bool, width: int, height: int, labels: bool,
    **options: Any,
) -> None:
    """Draw the palette of IMAGE as a strip of colours (PNG, SVG, ...)."""
    pairs = dict(plan(images, output, allowed=SWATCH_FORMATS, fmt=fmt))

    def one(image: str) -> None:
        from ..render import save_image, swatch_image, swatch_svg

        out = pairs[image]
        palette = palette_for(image, **options)
        note(palette)
        if width < len(palette):
            raise click.UsageError(f"--width {width} is too narrow for {len(palette)} colours")
        drawing = {"width": width, "height": height, "equal": equal, "labels": labels}
        with writing(out) as temporary:
            if out.suffix.lower() == ".svg":
                temporary.write_text(swatch_svg(palette, **drawing), encoding="utf-8")
            else:
                save_image(swatch_image(palette, **drawing), temporary)

    if run_each(list(pairs), one):
        sys.exit(1)


@click.command("recolor", cls=OneLineCommand)
@click.argument("images", metavar="IMAGES...", nargs=-1, required=True)
@output_option(sorted(RASTER_FORMATS))
@format_option(sorted(RASTER_FORMATS), "png")
@extract_options
@click.option("--dither", is_flag=True, help="Floyd-Steinberg error diffusion instead of flat areas.")
@click.option(
    "--palette", "palette_file", metavar="FILE", type=click.Path(exists=True, dir_okay=False),
    help="Recolour with the palette of FILE: another image (its -k colours) or a palette file (.json, .gpl, ...).",
)
@click.option(
    "--max-side", type=click.IntRange(0), default=0, show_default=True,
    help="Scale the picture down to this longest side first; 0 keeps the full size.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the palette used as JSON instead of a table.")
@click.pass_context
@handle_errors
def recolor_command(
    ctx: click.Context, images: tuple[str, ...], output: str, fmt: str, dither: bool,
    palette_file: str | None, max_side: int, as_json: bool, **options: Any,
) -> None:
    """Redraw IMAGE with every pixel in its palette colour: a flattened, indexed image.

    Prints the palette used (hex, RGB, share, names); --json for JSON.
    """
    timeout = options.pop("timeout")
    pairs = dict(plan(images, output, allowed=RASTER_FORMATS, fmt=fmt))
    if palette_file is not None and any(Path(out).resolve() == Path(palette_file).resolve() for out in pairs.values()):
        raise click.UsageError(f"{palette_file}: refusing to overwrite the --palette file")
    explicit_space = ctx.get_parameter_source("space") != ParameterSource.DEFAULT
    if as_json:
        options["delta_e"] = True
    given = None
    if palette_file:
        from ..render import load_palette_file

        with user_errors(palette_file):
            given = within_deadline(
                palette_file, deadline_for(palette_file, timeout), load_palette_file, palette_file,
                **{k: v for k, v in options.items() if k != "delta_e"},
            )
    used: list[Palette] = []

    def one(image: str) -> None:
        from ..render import save_image

        limit = deadline_for(image, timeout)
        with user_errors(image):
            palette, picture = within_deadline(
                display_name(image), limit, _recolored, image, given, limit, options, dither,
                explicit_space, max_side,
            )
        note(palette)
        with writing(pairs[image]) as temporary:
            save_image(picture, temporary)
        used.append(palette)

    failed = run_each(list(pairs), one)
    print_palettes(used, as_json=as_json, headers=len(pairs) > 1)
    if failed:
        sys.exit(1)


def _recolored(
    image: str, palette: Palette | None, timeout: float | None, options: dict[str, Any], dither: bool,
    explicit_space: bool, max_side: int,
) -> tuple[Palette, Any]:
    """The palette (extracted unless given) and the recoloured picture of IMAGE."""
    from PIL import Image

    from ..load import load_image
    from ..pipeline import extract
    from ..render.common import fit_side
    from ..render.recolor import recolor_pixels

    source = source_of(image, timeout)
    if palette is None:
        palette = extract(source, **options)
        if palette.source == "<bytes>":  # a URL or standard input, read into bytes: name it
            palette = dataclasses.replace(palette, source=display_name(image))
    pixels = load_image(source, max_pixels=options["max_pixels"], draft_above=None, upright=True).pixels
    if max_side:
        import numpy as np

        pixels = np.asarray(fit_side(Image.fromarray(pixels), max_side))
    picture = recolor_pixels(
        pixels, palette, dither=dither, space=options["space"] if explicit_space else None,
        alpha_threshold=options["alpha_threshold"],
    )
    if not dither:
        # The shares printed are those of the picture written (full size or --max-side, not the
        # reduced decode a large JPEG's palette comes from), under the one assignment rule.
        from ..assign import measure_palette

        palette = measure_palette(pixels, palette, alpha_threshold=options["alpha_threshold"])
    return palette, picture
