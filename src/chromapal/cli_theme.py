"""The ``chromapal theme`` command, and the clean-up and export steps the CLI commands share.

Imported by ``chromapal.cli`` (which registers `theme_command` at its end); import that
module, not this one, first.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .adjust import clean_palette
from .cli import (
    OneLineCommand,
    PipeConsole,
    extract_options,
    handle_errors,
    output_path,
    palette_for,
)
from .errors import PaletteError
from .export import (
    FORMATS,
    PaletteFileError,
    colors_written,
    dump_palette,
    extensions,
    format_for_path,
)
from .export.atomic import write_bytes_atomic
from .export.terminal import THEME_TARGETS, dump_theme
from .names import parse_color
from .palette import Palette
from .theme import make_theme
from .theme_preview import preview_lines

RGB = tuple[int, int, int]


def parse_ignore(
    ctx: click.Context | None, param: click.Parameter | None, value: str | None
) -> list[RGB]:
    """Click callback: ``'white,black'`` or ``'#f0f0f0'`` -> RGB tuples; bad colour: usage error."""
    if not value:
        return []
    try:
        return [parse_color(item) for item in value.split(",") if item.strip()]
    except PaletteError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param, param_hint="'--ignore'") from exc


def extract_ignoring(
    image: str, ignore: Sequence[RGB], tolerance: float, **options: Any
) -> Palette:
    """Palette of IMAGE with the pixels near `ignore` colours left out of the clustering."""
    return palette_for(image, ignore=ignore, ignore_tolerance=tolerance, **options)


def cleaned_palette(
    image: str,
    *,
    ignore: Sequence[RGB] = (),
    ignore_tolerance: float = 10.0,
    merge: float | None = None,
    min_share: float = 0.0,
    sort: str = "share",
    **options: Any,
) -> Palette:
    """Extract IMAGE's palette (leaving `ignore` colours out), then merge, drop and sort it."""
    palette = extract_ignoring(image, ignore, ignore_tolerance, **options)
    return clean_palette(palette, merge=merge, min_share=min_share, sort=sort)


def export_format(output: str | None, fmt: str | None, images: Sequence[str]) -> str | None:
    """Check ``-o``/``--format`` before any work; return the format to write (None: the table).

    Raises ``click.UsageError`` (exit 2) for an unknown extension, a bad folder, or a file
    format with more than one image.
    """
    if output is None and fmt in (None, "json"):
        return None if fmt is None else "json"
    if len(images) > 1 and not (output is None and fmt == "json"):
        raise click.UsageError(f"-o/--output and --format take one IMAGE (got {len(images)})")
    if output is None:
        return fmt
    suffix = Path(output).suffix.lower().lstrip(".")
    allowed = [suffix] if fmt else {ext.rsplit(".", 1)[-1] for ext in extensions()}
    output_path(output, allowed=allowed, inputs=images)
    try:
        return format_for_path(output, fmt)
    except PaletteFileError as exc:
        raise click.UsageError(str(exc)) from exc


def write_export(palette: Palette, fmt: str, output: str | None, *, names: str) -> None:
    """Write `palette` as `fmt` to `output`, or to standard output when `output` is None."""
    data = dump_palette(palette, fmt, names=names)
    if output is None:
        if FORMATS[fmt].binary and sys.stdout.isatty():
            raise click.UsageError(f"{fmt} is a binary format; write it to a file with -o FILE")
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    try:
        write_bytes_atomic(output, data)
    except OSError as exc:
        raise click.ClickException(f"{output}: cannot write ({exc.strerror or exc})") from exc
    click.echo(f"wrote {output} ({fmt}, {colors_written(palette, fmt)})", err=True)


# -- theme -----------------------------------------------------------------------------------


@click.command("theme", cls=OneLineCommand)
@click.argument("image")
@click.option(
    "--target",
    type=click.Choice(list(THEME_TARGETS)),
    help="Terminal to write the scheme for.",
)
@click.option(
    "-o", "--output", metavar="FILE", help="Write the scheme to FILE (default: standard output)."
)
@click.option("--light", is_flag=True, help="A light scheme (dark text on a light background).")
@click.option("--preview", is_flag=True, help="Print the scheme's pairings as coloured text.")
@click.option(
    "--strict",
    is_flag=True,
    help="White on red and blue at 4.5:1 too, for which a dark background is near black.",
)
@click.option("--name", help="Scheme name written into the file (default: the image's name).")
@extract_options
@handle_errors
def theme_command(
    image: str,
    target: str | None,
    output: str | None,
    light: bool,
    preview: bool,
    strict: bool,
    name: str | None,
    **options: Any,
) -> None:
    """Make a 16-colour terminal scheme from IMAGE's palette (text 7:1, colours 4.5:1 both ways)."""
    if target is None and not preview:
        raise click.UsageError("give --target NAME to write a scheme, or --preview to see it")
    if output is not None and target is None:
        raise click.UsageError("-o/--output needs --target NAME")
    if preview and target and output is None:
        raise click.UsageError(
            "--preview with --target needs -o FILE (both would go to standard output)"
        )
    if output is not None:
        output_path(output, allowed=[Path(output).suffix.lower().lstrip(".")], inputs=[image])
    palette = palette_for(image, **options)
    label = name or (
        Path(palette.source).stem if palette.source and palette.source != "<stdin>" else "chromapal"
    )
    theme = make_theme(palette, light=light, name=label, strict=strict)
    if target is not None:
        text = dump_theme(theme, target)
        if output is None:
            click.echo(text, nl=False)
        else:
            try:
                write_bytes_atomic(output, text.encode("utf-8"))
            except OSError as exc:
                raise click.ClickException(
                    f"{output}: cannot write ({exc.strerror or exc})"
                ) from exc
            click.echo(f"wrote {output} ({target} scheme)", err=True)
    if preview:
        console = PipeConsole(
            highlight=False,
            soft_wrap=True,
            force_terminal="NO_COLOR" not in os.environ,
            color_system="truecolor",
        )
        for row in preview_lines(theme):
            console.print(row)
