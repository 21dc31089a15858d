"""The clean-up and export steps the commands share: ignore colours, merge, drop, sort, write files."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..errors import PaletteError
from .common import output_path, palette_for

if TYPE_CHECKING:
    from ..palette import Palette

RGB = tuple[int, int, int]


def parse_ignore(
    ctx: click.Context | None, param: click.Parameter | None, value: str | None
) -> list[RGB]:
    """Click callback: ``'white,black'`` or ``'#f0f0f0'`` -> RGB tuples; bad colour: usage error."""
    if not value:
        return []
    from ..names import parse_color

    try:
        return [parse_color(item) for item in value.split(",") if item.strip()]
    except PaletteError as exc:
        raise click.BadParameter(str(exc), ctx=ctx, param=param, param_hint="'--ignore'") from exc


def extract_ignoring(
    image: str, ignore: Sequence[RGB], tolerance: float, **options: Any
) -> Any:
    """Palette of IMAGE with the pixels near `ignore` colours left out of the clustering.

    A list ``k`` gives a list of palettes (see `chromapal.cli.common.palette_for`).
    """
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
) -> Any:
    """Extract IMAGE's palette (leaving `ignore` colours out), then merge, drop and sort it.

    A list ``k`` gives a list of palettes, each cleaned.
    """
    from ..adjust import clean_palette

    palette = extract_ignoring(image, ignore, ignore_tolerance, **options)
    if isinstance(palette, list):
        return [clean_palette(p, merge=merge, min_share=min_share, sort=sort) for p in palette]
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
    from ..export import PaletteFileError, extensions, format_for_path

    suffix = Path(output).suffix.lower().lstrip(".")
    allowed = [suffix] if fmt else {ext.rsplit(".", 1)[-1] for ext in extensions()}
    output_path(output, allowed=allowed, inputs=images)
    try:
        return format_for_path(output, fmt)
    except PaletteFileError as exc:
        raise click.UsageError(str(exc)) from exc


def write_export(palette: Palette, fmt: str, output: str | None, *, names: str) -> None:
    """Write `palette` as `fmt` to `output`, or to standard output when `output` is None."""
    from ..export import FORMATS, colors_written, dump_palette
    from ..export.atomic import write_bytes_atomic

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
