"""Printing for the ``chromapal`` commands: colour only on a terminal, Rich only when needed."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from typing import Any

from ..palette import Palette, text_color_for
from .group import BROKEN_PIPE_STATUS, quiet_exit_after_broken_pipe

__all__ = ["BROKEN_PIPE_STATUS", "pipe_console", "palette_lines", "quiet_exit_after_broken_pipe", "use_color"]


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
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def palette_lines(palette: Palette, *, color: bool) -> Iterable[Any]:
    """One line per colour: swatch (when `color`), hex, RGB and share in percent."""
    for s in palette:
        r, g, b = s.rgb
        plain = f"{s.hex}  rgb({r:3d}, {g:3d}, {b:3d})  {s.proportion * 100:5.1f}%"
        if not color:
            yield plain
            continue
        from rich.text import Text

        line = Text()
        line.append(f" {s.hex} ", style=f"{text_color_for(s.rgb)} on {s.hex}")
        line.append("  ")
        line.append(plain[9:])
        yield line


