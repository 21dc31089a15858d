"""The ``chromapal`` command: a thin layer that parses, calls the library, prints, translates errors.

Exit status: 0 ok, 1 an input could not be used, 2 a usage error (click's own).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.text import Text

from . import __version__
from .colorspace import SPACES
from .errors import PaletteError
from .load import MAX_PIXELS
from .palette import Palette, dumps_palettes, text_color_for
from .pipeline import MAX_K, extract

F = TypeVar("F", bound=Callable[..., Any])

SPACE_CHOICE = click.Choice(sorted(SPACES) + ["lab", "rgb"], case_sensitive=False)


def extract_options(func: F) -> F:
    """The clustering options shared by every command that extracts a palette."""
    options = [
        click.option("-k", "--colors", "k", type=click.IntRange(1, MAX_K), default=8, show_default=True,
                     help="Number of colours in the palette."),
        click.option("--space", type=SPACE_CHOICE, default="oklab", show_default=True,
                     help="Colour space the k-means runs in."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed for any random choice."),
        click.option("--alpha-threshold", type=click.IntRange(0, 255), default=128, show_default=True,
                     help="Pixels with alpha below this are left out."),
        click.option("--frames", type=click.Choice(["first", "all"]), default="first", show_default=True,
                     help="Animated images: the first frame, or all frames pooled."),
        click.option("--max-pixels", type=click.IntRange(1), default=MAX_PIXELS, show_default=True,
                     help="Refuse images with more pixels (decompression-bomb guard)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def read_source(image: str) -> Any:
    """Map a command-line IMAGE to what `extract` takes: ``-`` reads standard input."""
    if image == "-":
        return sys.stdin.buffer.read()
    return image


def palette_for(image: str, **options: Any) -> Palette:
    """Extract the palette of IMAGE, turning user errors into one-line ``click`` errors."""
    try:
        source = read_source(image)
        palette = extract(source, **options)
    except PaletteError as exc:
        raise click.ClickException(str(exc)) from exc
    except (ValueError, TypeError, OSError, MemoryError) as exc:
        raise click.ClickException(f"{image}: {exc}") from exc
    if image == "-":
        palette = Palette(palette.colors, palette.proportions, source="<stdin>", k=palette.k,
                          space=palette.space, note=palette.note)
    return palette


def handle_errors(func: F) -> F:
    """Turn any unexpected exception into a one-line error (no traceback for users)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt):
            raise
        except Exception as exc:  # noqa: BLE001 - last resort: one line, exit 1
            raise click.ClickException(f"unexpected {type(exc).__name__}: {exc}") from exc

    return wrapper  # type: ignore[return-value]


def use_color(stream: Any = None) -> bool:
    """True colour swatches only on a terminal and when NO_COLOR is unset."""
    stream = stream or sys.stdout
    return "NO_COLOR" not in os.environ and hasattr(stream, "isatty") and stream.isatty()


def palette_lines(palette: Palette, *, color: bool) -> Iterable[Text | str]:
    """One line per colour: swatch (when `color`), hex, RGB and share in percent."""
    for s in palette:
        r, g, b = s.rgb
        plain = f"{s.hex}  rgb({r:3d}, {g:3d}, {b:3d})  {s.proportion * 100:5.1f}%"
        if not color:
            yield plain
            continue
        line = Text()
        line.append(f" {s.hex} ", style=f"{text_color_for(s.rgb)} on {s.hex}")
        line.append("  ")
        line.append(plain[9:])
        yield line


class DefaultGroup(click.Group):
    """A group whose first argument is an image unless it names a sub-command."""

    default_command = "extract"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Route ``chromapal IMAGE ...`` to the default command."""
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help", "--version"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chromapal")
def main() -> None:
    """Find the colour palette of images: chromapal IMAGE... [-k 8] [--json].

    Without a command, prints each IMAGE's dominant colours (the `extract` command).
    """


@main.command("extract")
@click.argument("images", nargs=-1, required=True)
@extract_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handle_errors
def extract_command(images: tuple[str, ...], as_json: bool, **options: Any) -> None:
    """Print the dominant colours of IMAGES (paths, http(s) URLs, or - for standard input)."""
    console = Console(highlight=False, soft_wrap=True)
    color = use_color()
    results: list[dict[str, Any]] = []
    failed = 0
    for image in images:
        try:
            palette = palette_for(image, **options)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            failed += 1
            continue
        if palette.note:
            click.echo(f"note: {palette.source}: {palette.note}", err=True)
        if as_json:
            results.append(palette.to_dict())
            continue
        if len(images) > 1 or color:
            console.print(f"{palette.source}  ({len(palette)} colours, {palette.space})", style="bold" if color else None)
        for line in palette_lines(palette, color=color):
            console.print(line)
    if as_json and results:
        click.echo(dumps_palettes(results[0] if len(images) == 1 else results))
    if failed:
        sys.exit(1)


def output_path(path: str, *, allowed: Iterable[str], inputs: Iterable[str] = ()) -> Path:
    """Check an output path: known extension, not one of the inputs, writable folder.

    Raises ``click.UsageError`` (exit status 2) otherwise.
    """
    out = Path(path)
    ext = out.suffix.lower().lstrip(".")
    allowed = sorted(allowed)
    if ext not in allowed:
        raise click.UsageError(f"{path}: unknown output format {ext or '(none)'!r}; expected one of {', '.join(allowed)}")
    for image in inputs:
        if image != "-" and Path(image).exists() and out.exists() and out.resolve() == Path(image).resolve():
            raise click.UsageError(f"{path}: refusing to overwrite the input image")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise click.UsageError(f"{path}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise click.UsageError(f"{path}: folder {str(parent)!r} is not writable")
    return out
