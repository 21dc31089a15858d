"""The ``extract`` command (``chromapal IMAGE...``): print or write the palette of images."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import click

from .cleanup import cleaned_palette, export_format, parse_ignore, write_export
from .common import FiniteFloatRange, OneLineCommand, deadline_for, extract_options, handle_errors
from .defaults import IGNORE_TOLERANCE, NAME_LISTS, PALETTE_FORMATS, SORT_KEYS
from .output import print_palettes


@click.command("extract", cls=OneLineCommand)
@click.argument("images", nargs=-1, required=True)
@extract_options(k_range=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("-o", "--output", metavar="FILE",
              help="Write the palette to FILE; the format follows its extension (see --format).")
@click.option("--format", "fmt", type=click.Choice(list(PALETTE_FORMATS)),
              help="File format (default: from the -o extension; .txt is the hex list, "
                   "paintnet the Paint.NET .txt). Without -o, written to standard output.")
@click.option("--names", type=click.Choice(list(NAME_LISTS)), default="css", show_default=True,
              help="Name list labelling the colours in exported files.")
@click.option("--sort", type=click.Choice(SORT_KEYS), default="share", show_default=True,
              help="Order: share (largest first), lightness (dark to light), hue, "
                   "chroma (most vivid first).")
@click.option("--merge", type=FiniteFloatRange(min=0), metavar="DELTA_E",
              help="Merge colours closer than this CIEDE2000 difference (shares added).")
@click.option("--ignore", metavar="COLORS",
              help="Leave pixels near these colours out of the clustering: CSS names or hex, "
                   "comma-separated, e.g. white,black or '#f0f0f0'.")
@click.option("--ignore-tolerance", type=FiniteFloatRange(0, 200), default=IGNORE_TOLERANCE,
              show_default=True,
              help="How near a pixel must be to an --ignore colour: CIELAB distance (ΔE76).")
@click.option("--min-share", type=FiniteFloatRange(0, 1), default=0.0, show_default=True,
              help="Drop colours under this share of the image (0-1); shares are rescaled.")
@handle_errors
def extract_command(
    images: tuple[str, ...], as_json: bool, output: str | None, fmt: str | None, names: str,
    sort: str, merge: float | None, ignore: str | None, ignore_tolerance: float, min_share: float,
    **options: Any,
) -> None:
    """Print the dominant colours of IMAGES (paths, http(s) URLs, or - for standard input).

    With -o FILE or --format, write the palette as JSON, CSV, a hex list, CSS, SCSS, Tailwind,
    GIMP, Adobe ASE, Paint.NET, Krita, Procreate or SVG instead.

    -k with a range (-k 1-10, -k 2,4,8) prints one palette per k, each image decoded once;
    with --json, a list of palette objects (each with its "k"), image after image.

    A IIIF manifest or collection URL prints the palette of each canvas, named by its label.
    """
    export = export_format(output, fmt, images)
    as_json = as_json or export == "json" and output is None
    ranged = isinstance(options["k"], list)
    if ranged and export and not as_json:
        raise click.UsageError("-k with a range prints the palettes (add --json for JSON); -o/--format take one k")
    if as_json or export == "json":
        options["delta_e"] = True  # the JSON carries the palette's exact error (issue 12)
    cleanup: dict[str, Any] = {"ignore": parse_ignore(None, None, ignore), "ignore_tolerance": ignore_tolerance,
               "merge": merge, "min_share": min_share, "sort": sort}
    shown: list[Any] = []
    failed = 0
    canvases = False  # a IIIF manifest gives a JSON list, like several images
    for image, label in _with_canvases(images, options.get("timeout")):
        if image is None:  # a IIIF document or canvas that could not be read: already said
            failed += 1
            continue
        try:
            found = cleaned_palette(image, **cleanup, **options)
        except click.ClickException as exc:
            if export and not as_json:
                raise
            click.echo(f"Error: {label or ''}{exc.format_message()}", err=True)
            failed += 1
            continue
        canvases = canvases or bool(label)
        if label:  # a IIIF canvas: named by its label, then its image URL
            found = [replace(p, source=f"{label}{p.source}") for p in found] if ranged else replace(
                found, source=f"{label}{found.source}"
            )
        palettes = found if ranged else [found]
        for palette in palettes[-1:]:
            if palette.note:
                click.echo(f"note: {palette.source}: {palette.note}", err=True)
        if export and not as_json:
            write_export(palettes[0], export, output, names=names)
            continue
        if as_json:
            shown += palettes
            continue
        print_palettes(palettes, headers=len(images) > 1 or ranged or bool(label))
    if as_json:
        print_palettes(shown, as_json=True, several=len(images) > 1 or ranged or canvases)
    if failed:
        sys.exit(1)


def _with_canvases(images: tuple[str, ...], timeout: float | None) -> Iterator[tuple[str | None, str | None]]:
    """Each IMAGE with no label; a IIIF manifest or collection URL gives each canvas's image.

    A URL that is not an image by its extension is read once to tell (`chromapal.iiif.expand_url`);
    a canvas's image URL is its Image API request at the size a palette needs. Yields
    (image, label prefix or None); a manifest that cannot be read, or a canvas without an
    image, prints its one error line and yields (None, None), a failure.
    """
    from ..errors import PaletteError
    from ..load import is_url

    for image in images:
        if not is_url(image):
            yield image, None
            continue
        from ..iiif import canvas_url, expand_url

        limit = deadline_for(image, timeout)
        try:
            walked = expand_url(image, timeout=limit)
        except PaletteError as exc:
            click.echo(f"Error: {exc}", err=True)
            yield None, None
            continue
        if walked is None:
            yield image, None
            continue
        for url, reason in walked.errors:
            click.echo(f"Error: {url}: {reason}", err=True)
            yield None, None
        for canvas in walked.canvases:
            label = f"{canvas.label or canvas.canvas}: "
            deadline = time.monotonic() + (limit or float("inf"))
            try:
                yield canvas_url(canvas.as_dict(), deadline), label
            except PaletteError as exc:
                click.echo(f"Error: {label}{exc}", err=True)
                yield None, None
