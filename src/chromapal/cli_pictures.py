"""The picture commands ``swatch``, ``pies`` and ``recolor``, and the helpers they share with
``sweep`` and ``report`` (`chromapal.cli_report`).

Each parses, calls `chromapal.render`, writes the file its ``-o`` names (format from the
extension) and turns every problem into one line, ``Error: ...``: exit status 2 for a
usage error (unknown extension, unwritable folder, bad k range, missing option), 1 for
an input that cannot be used.

The work on the image (download, decoding, clustering, drawing the pixels) runs with
decoders silenced and, under ``--timeout``, in a child process killed at the deadline
(`chromapal.cli.within_deadline`); files are written whole or not at all
(`chromapal.export.atomic`).
"""

from __future__ import annotations

import contextlib
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
from click.core import ParameterSource

from .cli import (
    OneLineCommand,
    deadline_for,
    display_name,
    extract_options,
    handle_errors,
    output_path,
    palette_for,
    within_deadline,
)
from .errors import PaletteError
from .export.atomic import atomic_path
from .palette import Palette
from .pipeline import MAX_K, extract
from .render import (
    RASTER_FORMATS,
    load_palette_file,
    parse_ks,
    save_image,
    swatch_image,
    swatch_svg,
)
from .render.common import FIGURE_FORMATS
from .render.recolor import recolor

F = TypeVar("F", bound=Callable[..., Any])

SWATCH_FORMATS = sorted([*RASTER_FORMATS, "svg"])
PIE_FORMATS = sorted(FIGURE_FORMATS)


class KRange(click.ParamType):
    """A k range: ``1-10``, ``2,4,8`` or ``2-6,10`` (see `chromapal.render.parse_ks`)."""

    name = "RANGE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> list[int]:
        """Parse `value` into a sorted list of k values."""
        if isinstance(value, list):
            return value
        try:
            return parse_ks(str(value), max_k=MAX_K)
        except ValueError as exc:
            self.fail(str(exc), param, ctx)


def cluster_options(func: F) -> F:
    """`extract_options` without ``-k`` (and its --max-error): for commands taking a k range."""
    func = extract_options(func)
    func.__click_params__ = [  # type: ignore[attr-defined]
        p for p in func.__click_params__ if p.name not in ("k", "max_error")  # type: ignore[attr-defined]
    ]
    return func


def output_option(formats: list[str], *, required: bool = True) -> Callable[[F], F]:
    """``-o/--output FILE``; the format follows the extension."""
    return click.option(
        "-o",
        "--output",
        "output",
        metavar="FILE",
        required=required,
        help=f"File to write; the extension picks the format ({', '.join(formats)}).",
    )


def source_of(image: str, timeout: float | None = None) -> Any:
    """IMAGE as the library takes it: ``-`` (standard input) and URLs read once into bytes.

    The picture commands read their image more than once (palette, then pixels). Called
    inside the deadline, so a stalled standard input or server is cut off too.
    """
    from .load import is_url
    from .workers import fetch_within

    if image == "-":
        return sys.stdin.buffer.read()
    if not is_url(image):
        return image
    deadline = time.monotonic() + (timeout if timeout is not None else float("inf"))
    return fetch_within(image, deadline).getvalue()


@contextlib.contextmanager
def user_errors(image: str) -> Iterator[None]:
    """Translate problems with IMAGE raised by the library into one-line errors (exit 1)."""
    try:
        with warnings.catch_warnings():  # a Pillow warning would break the one-line error
            warnings.simplefilter("ignore")
            yield
    except PaletteError as exc:
        message = str(exc)
        if message.startswith("<bytes>:"):  # a URL or standard input, read into bytes
            message = ("<stdin>" if image == "-" else image) + message[len("<bytes>") :]
        raise click.ClickException(message) from exc
    except MemoryError as exc:
        raise click.ClickException(f"{image}: out of memory") from exc
    except (ValueError, TypeError, OSError) as exc:
        raise click.ClickException(
            f"{image}: {' '.join(str(exc).split()) or type(exc).__name__}"
        ) from exc


@contextlib.contextmanager
def writing(path: Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`, renamed to it when the block succeeds.

    A failure leaves no file (and any earlier `path` untouched); a failure to write
    (disk full, permissions) becomes a one-line error.
    """
    try:
        with atomic_path(path) as temporary:
            yield temporary
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot write ({exc.strerror or exc})") from exc


def note(palette: Palette) -> None:
    """Tell the user (on standard error) anything the palette's `note` says."""
    if palette.note:
        click.echo(f"note: {palette.source}: {palette.note}", err=True)


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


@click.command("pies", cls=OneLineCommand)
@click.argument("image")
@output_option(PIE_FORMATS, required=False)
@click.option(
    "-k",
    "--k",
    "ks",
    type=KRange(),
    default="1-10",
    show_default=True,
    help="The k values: one pie chart each, e.g. 1-10 or 2,4,8.",
)
@click.option(
    "--separate",
    metavar="DIR",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write one file per k into DIR (pie-k01.png, ...) instead of one grid.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(PIE_FORMATS),
    default="png",
    show_default=True,
    help="File format with --separate.",
)
@click.option(
    "--columns", type=click.IntRange(1, 20), default=None, help="Charts per row (default: up to 5)."
)
@cluster_options
@handle_errors
def pies_command(
    image: str,
    output: str | None,
    ks: list[int],
    separate: Path | None,
    fmt: str,
    columns: int | None,
    **options: Any,
) -> None:
    """Draw one pie chart of IMAGE's palette per k, in a grid (5 x 2 for k = 1-10)."""
    from .render.pie import plot_pies, save_figure

    timeout = deadline_for(image, options.pop("timeout"))
    if (output is None) == (separate is None):
        raise click.UsageError("give either -o/--output FILE or --separate DIR")
    if separate is not None:
        try:
            separate.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise click.UsageError(f"{separate}: cannot create the folder ({exc.strerror})") from exc
        targets = [
            output_path(str(separate / f"pie-k{k:02d}.{fmt}"), allowed=PIE_FORMATS, inputs=[image])
            for k in ks
        ]
    else:
        targets = [output_path(str(output), allowed=PIE_FORMATS, inputs=[image])]
    with user_errors(image):
        palettes = within_deadline(
            display_name(image), timeout, _palettes, image, ks, timeout, options
        )
    note(palettes[-1])
    figures = (
        [plot_pies(palettes, ncols=columns)]
        if separate is None
        else [plot_pies([p]) for p in palettes]
    )
    for figure, target in zip(figures, targets, strict=True):
        with writing(target) as temporary:
            save_figure(figure, temporary)


def _palettes(
    image: str, ks: list[int], timeout: float | None, options: dict[str, Any]
) -> list[Palette]:
    from .render import palettes_for

    return palettes_for(source_of(image, timeout), ks, **options)


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


COMMANDS = [swatch_command, pies_command, recolor_command]
