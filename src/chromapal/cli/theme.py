"""The ``theme`` command: a 16-colour terminal scheme from an image's palette."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import click

from .common import OneLineCommand, extract_options, handle_errors, output_path, palette_for
from .defaults import THEME_TARGETS
from .output import pipe_console


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
    from ..export.atomic import write_bytes_atomic
    from ..export.terminal import dump_theme
    from ..theme import make_theme
    from ..theme_preview import preview_lines

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
        console = pipe_console(
            highlight=False,
            soft_wrap=True,
            force_terminal="NO_COLOR" not in os.environ,
            color_system="truecolor",
        )
        for row in preview_lines(theme):
            console.print(row)
