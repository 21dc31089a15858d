"""Printing for the ``chromapal`` commands: colour only on a terminal, Rich only when needed."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from typing import TYPE_CHECKING

import click

from .group import BROKEN_PIPE_STATUS, quiet_exit_after_broken_pipe

if TYPE_CHECKING:
    from ..palette import Palette

__all__ = [
    "BROKEN_PIPE_STATUS", "palette_lines", "pipe_console", "print_palettes", "quiet_exit_after_broken_pipe",
    "use_color",
]


def pipe_console(**options: Any) -> Any:
    """A Rich console whose closed pipe ends the run like any other (`LazyGroup.invoke`).

    Rich's own handling exits with status 1; ``head`` and the shell expect the quiet
    SIGPIPE-style status that every other write path gives. Rich is imported here, on
    first use, because it takes longer to import than numpy.
    """
    from rich.console import Console

    class PipeConsole(Console):
        def on_broken_pipe(self) -> None:
            raise BrokenPipeError

    return PipeConsole(**options)


def use_color(stream: Any = None) -> bool:
    """True colour swatches only on a terminal and when NO_COLOR is unset."""
    stream = stream or sys.stdout
    return "NO_COLOR" not in os.environ and _is_terminal(stream)


def palette_lines(palette: Palette, *, color: bool) -> Iterable[Any]:
    """One line per colour: swatch (when `color`), hex, RGB and share in percent."""
    for s in palette:
        r, g, b = s.rgb
        plain = f"{s.hex}  rgb({r:3d}, {g:3d}, {b:3d})  {s.proportion * 100:5.1f}%"
        if not color:
            yield plain
            continue
        from rich.text import Text

        from ..palette import text_color_for

        line = Text()
        line.append(f" {s.hex} ", style=f"{text_color_for(s.rgb)} on {s.hex}")
        line.append("  ")
        line.append(plain[9:])
        yield line




def header(palette: Palette) -> str:
    """``photo.jpg  (5 colours, oklab)``: the line above a palette's table."""
    n = len(palette)
    return f"{palette.source}  ({n} colour{'' if n == 1 else 's'}, {palette.space})"


def print_palettes(
    palettes: Sequence[Palette], *, as_json: bool = False, headers: bool = False, several: bool = False
) -> None:
    """Print `palettes` on standard output: JSON, or a table per palette.

    JSON is one palette object, or a list of them when `several`. A table has one line
    per colour (swatch on a colour terminal, hex, RGB, share, CSS and xkcd names) under a
    header line (`header`) when `headers` is true or standard output is a terminal
    (NO_COLOR takes the colour away, not the header).
    """
    if as_json:
        from ..palette import dumps_palettes

        if palettes:
            data = [p.to_dict() for p in palettes]
            click.echo(dumps_palettes(data if several else data[0]))
        return
    from ..names import nearest_names

    color = use_color()
    console = pipe_console(highlight=False, soft_wrap=True) if color else None
    show_header = headers or _is_terminal(sys.stdout)
    for palette in palettes:
        if show_header:
            if console is None:
                click.echo(header(palette))
            else:
                console.print(header(palette), style="bold")
        css, xkcd = nearest_names(palette.colors, "css"), nearest_names(palette.colors, "xkcd")
        for line, css_name, xkcd_name in zip(palette_lines(palette, color=color), css, xkcd, strict=True):
            column = f"  {css_name:<20} {xkcd_name}"
            if console is None:
                click.echo(f"{line}{column}")
            else:
                line.append(column)
                console.print(line)


def _is_terminal(stream: Any) -> bool:
    return hasattr(stream, "isatty") and stream.isatty()
