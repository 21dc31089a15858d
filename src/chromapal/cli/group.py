"""The ``chromapal`` command group: knows every subcommand without importing it.

`main` lists each subcommand's name and one-line help from `COMMANDS`; the module
holding a subcommand is imported only when that subcommand runs or is asked for
``-h``, so ``chromapal --help`` imports click and nothing heavier.

Exit status: 0 ok, 1 an input could not be used, 2 a usage error (click's own),
141 after the reader of standard output went away.
"""

from __future__ import annotations

import importlib
import io
import os
import re
import sys
from typing import Any

import click

from .. import __version__

#: Exit status after the reader of standard output went away (as a shell reports SIGPIPE).
BROKEN_PIPE_STATUS = 141

#: Every subcommand: name -> (module under chromapal.cli, attribute, one-line help).
#: tests/test_cli_workflows.py checks each help line against the command's own.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "extract": ("extract", "extract_command", "Print the dominant colours of IMAGES (paths, http(s) URLs, or - for standard input)."),
    "swatch": ("pictures", "swatch_command", "Draw the palette of IMAGE as a strip of colours (PNG, SVG, ...)."),
    "pies": ("pies", "pies_command", "Draw one pie chart of IMAGE's palette per k, in a grid (5 x 2 for k = 1-10)."),
    "recolor": ("pictures", "recolor_command", "Redraw IMAGE with every pixel in its palette colour: a flattened, indexed image."),
    "sweep": ("report", "sweep_command", "Animate IMAGE recoloured with k = 2, 3, ... colours, ending on the original (a GIF)."),
    "report": ("report", "report_command", "Write one self-contained HTML page: IMAGE, its palette, pie grid and recoloured image."),
    "theme": ("theme", "theme_command", "Make a 16-colour terminal scheme from IMAGE's palette (text 7:1, colours 4.5:1 both ways)."),
    "batch": ("batch", "batch_command", "Store the palettes of many images in an SQLite database."),
    "export": ("collections", "export_command", "Export the stored palettes: CSV or Parquet (a row per colour), JSON Lines (one per image)."),
    "search": ("search", "search_command", "Find stored images by colour (closest first), by named-colour facet, or by a similar palette."),
    "serve": ("web", "serve_command", "Run the web app: drop an image on the page to see and download its palette."),
}
#: The command that runs when the first argument is not a command name (an image).
DEFAULT_COMMAND = "extract"
_WORD = re.compile(r"[A-Za-z][A-Za-z-]*\Z")


def load_command(name: str) -> click.Command:
    """Import the module of subcommand `name` and return the command."""
    module, attribute, _ = COMMANDS[name]
    return getattr(importlib.import_module(f"{__package__}.{module}"), attribute)  # type: ignore[no-any-return]


def quiet_exit_after_broken_pipe() -> None:
    """Exit with status 141 and no message, as ``git log | head -1`` does.

    Standard output is pointed at /dev/null first, so the interpreter's final flush
    cannot print "Exception ignored ... BrokenPipeError".
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):  # no real fd (tests)
        pass
    sys.exit(BROKEN_PIPE_STATUS)


def suggestion(word: str) -> str | None:
    """The command `word` was probably meant to be, when it is no file and looks like a typo."""
    if not _WORD.match(word) or os.path.exists(word):
        return None
    import difflib

    close = difflib.get_close_matches(word.lower(), list(COMMANDS), n=1, cutoff=0.6)
    return close[0] if close else None


class LazyGroup(click.Group):
    """A group whose first argument is an image unless it names a subcommand.

    Subcommands are imported on first use (`load_command`); the help lists them from
    `COMMANDS` without importing any.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every subcommand name, in the order of `COMMANDS`."""
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Import and return subcommand `cmd_name` (None: no such command)."""
        return load_command(cmd_name) if cmd_name in COMMANDS else None

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The "Commands:" section from `COMMANDS`, importing none of them."""
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [(name, _shorten(help_, limit)) for name, (_, _, help_) in COMMANDS.items()]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Route ``chromapal IMAGE ...`` to the default command; suggest for a mistyped name."""
        if args and args[0] not in COMMANDS and args[0] not in ("-h", "--help", "--version"):
            near = suggestion(args[0])
            if near is not None:
                raise click.UsageError(f"No such command {args[0]!r}. Did you mean {near!r}?")
            args = [DEFAULT_COMMAND, *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a reader that closed standard output ends the run quietly."""
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
            return result
        except BrokenPipeError:
            quiet_exit_after_broken_pipe()


def _shorten(text: str, width: int) -> str:
    """`text` cut at a word to fit `width` columns, as click shortens help lines."""
    if len(text) <= width:
        return text
    return text[: width - 3].rsplit(" ", 1)[0].rstrip(",;:") + "..."


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chromapal")
def main() -> None:
    """Find the colour palette of images: chromapal IMAGE... [-k 8] [--json].

    Without a command, prints each IMAGE's dominant colours (the `extract` command).
    """
