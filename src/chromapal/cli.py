"""The ``chromapal`` command: a thin layer that parses, calls the library, prints, translates errors.

Exit status: 0 ok, 1 an input could not be used, 2 a usage error (click's own).
"""

from __future__ import annotations

import functools
import io
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.text import Text

from . import __version__
from .adjust import IGNORE_TOLERANCE, SORT_KEYS
from .colorspace import SPACES
from .errors import ImageTimeoutError, PaletteError
from .export import FORMATS
from .load import MAX_PIXELS, quiet_decoders
from .names import NAME_LISTS
from .palette import Palette, dumps_palettes, text_color_for
from .pipeline import INITS, MAX_ERROR, MAX_K, extract

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

#: Seconds a URL may take on the command line (download, decoding, clustering) when
#: --timeout is not given. Local files and standard input then run without a deadline:
#: the forked child that enforces one costs about 10-15 ms per image (measured, see
#: `within_deadline`), a sizeable share of a 0.35 s run.
DEFAULT_TIMEOUT = 30.0
#: Exit status after the reader of standard output went away (as a shell reports SIGPIPE).
BROKEN_PIPE_STATUS = 141


class FiniteFloatRange(click.FloatRange):
    """A float option that refuses NaN and infinities (a usage error naming the flag).

    ``click.FloatRange`` lets ``nan`` through (every comparison with it is false) and
    accepts ``inf``; every float option of every command uses this type instead.
    """

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Parse `value`, fail on a non-finite number, then check the range."""
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number.", param, ctx)
        return super().convert(number, param, ctx)


TIMEOUT_HELP = (
    "Seconds each image may take (download, decoding, clustering); 0: no limit.  "
    f"[default: {DEFAULT_TIMEOUT:g} for URLs, none for files]"
)


def timeout_option(func: F) -> F:
    """``--timeout SECONDS``: the per-image deadline of every command that reads images.

    The value is None when the option is not given; `deadline_for` turns it into the
    deadline of one image.
    """
    return click.option(
        "--timeout", type=FiniteFloatRange(min=0), default=None, metavar="SECONDS", help=TIMEOUT_HELP
    )(func)


def deadline_for(image: str, timeout: float | None) -> float | None:
    """The deadline of IMAGE in seconds (None: no limit) from the ``--timeout`` value.

    Not given: `DEFAULT_TIMEOUT` for a URL, none for a file or standard input; 0: none.
    """
    from .load import is_url

    if timeout is None:
        return DEFAULT_TIMEOUT if is_url(image) else None
    return timeout or None

class PipeConsole(Console):
    """A Rich console whose closed pipe ends the run like any other (`DefaultGroup.invoke`).

    Rich's own handling exits with status 1; ``head`` and the shell expect the quiet
    SIGPIPE-style status that every other write path gives.
    """

    def on_broken_pipe(self) -> None:
        """Hand the closed pipe to the command group."""
        raise BrokenPipeError


class KType(click.ParamType):
    """-k: an integer from 1 to 256, or 'auto'."""

    name = "k"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Return 'auto' or the integer, failing like ``click.IntRange`` otherwise."""
        if isinstance(value, str) and value.strip().lower() == "auto":
            return "auto"
        return click.IntRange(1, MAX_K).convert(value, param, ctx)


K_TYPE = KType()
SPACE_CHOICE = click.Choice(sorted(SPACES) + ["lab", "rgb"], case_sensitive=False)


def extract_options(func: F) -> F:
    """The clustering options shared by every command that extracts a palette."""
    options = [
        click.option("-k", "--colors", "k", type=K_TYPE, default="8", show_default=True,
                     help="Number of colours (1-256), or 'auto' for the fewest within --max-error."),
        click.option("--max-error", type=FiniteFloatRange(0, min_open=True), default=MAX_ERROR, show_default=True,
                     help="With -k auto: the mean CIEDE2000 error the palette may leave."),
        click.option("--init", type=click.Choice(INITS), default="median-cut", show_default=True,
                     help="k-means start: deterministic median cut, or k-means++ drawn with --seed."),
        click.option("--space", type=SPACE_CHOICE, default="oklab", show_default=True,
                     help="Colour space the k-means runs in."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed for any random choice."),
        click.option("--alpha-threshold", type=click.IntRange(0, 255), default=128, show_default=True,
                     help="Pixels with alpha below this are left out."),
        click.option("--frames", type=click.Choice(["first", "all"]), default="first", show_default=True,
                     help="Animated images: the first frame, or all frames pooled."),
        click.option("--max-pixels", type=click.IntRange(1), default=MAX_PIXELS, show_default=True,
                     help="Refuse images with more pixels (decompression-bomb guard)."),
        timeout_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def read_source(image: str) -> Any:
    """Map a command-line IMAGE to what `extract` takes: ``-`` reads standard input."""
    if image == "-":
        data = io.BytesIO(sys.stdin.buffer.read())
        data.name = "<stdin>"  # type: ignore[attr-defined]  # names it in palettes and messages
        return data
    return image


def display_name(image: str) -> str:
    """IMAGE as messages name it: ``-`` is ``<stdin>``."""
    return "<stdin>" if image == "-" else image


def palette_for(image: str, **options: Any) -> Palette:
    """Extract the palette of IMAGE, turning user errors into one-line ``click`` errors.

    The ``timeout`` option (the ``--timeout`` value, see `deadline_for`) runs
    everything - reading standard input, downloading, decoding, clustering - in a child
    process killed at the deadline (see `within_deadline`).
    """
    timeout = deadline_for(image, options.pop("timeout", None))
    try:
        if timeout is None:
            source = read_source(image)
            with quiet_decoders():  # decoders' own warnings and logs would break the one-line error
                palette = extract(source, **options)
        else:
            palette = within_deadline(
                display_name(image), timeout, read_and_extract, image, timeout, options
            )
    except PaletteError as exc:
        raise click.ClickException(str(exc)) from exc
    except MemoryError as exc:
        raise click.ClickException(f"{image}: out of memory while decoding the image") from exc
    except (ValueError, TypeError, OSError) as exc:
        raise click.ClickException(f"{image}: {' '.join(str(exc).split()) or type(exc).__name__}") from exc
    return palette


def read_and_extract(image: str, timeout: float | None, options: dict[str, Any]) -> Palette:
    """Read IMAGE (standard input, a URL within `timeout`, a path) and extract its palette."""
    from .workers import fetch_within

    deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
    return extract(fetch_within(read_source(image), deadline), **options)


def within_deadline(
    image: str, timeout: float | None, func: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    """Run ``func(*args, **kwargs)`` for IMAGE with decoders silenced, under the deadline.

    With a `timeout` the call runs in a forked child killed after that many seconds
    (`chromapal.workers.run_with_deadline`); its result must be picklable. Raises
    `ImageTimeoutError` naming IMAGE; other errors pass through unchanged.
    """
    from .workers import WorkerCrashedError, run_with_deadline

    try:
        with quiet_decoders():
            if timeout is None:
                return func(*args, **kwargs)
            return run_with_deadline(func, *args, timeout=timeout, **kwargs)
    except (ImageTimeoutError, WorkerCrashedError) as exc:
        raise type(exc)(f"{image}: {exc}") from None


def handle_errors(func: F) -> F:
    """Turn any unexpected exception into a one-line error (no traceback for users)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.ClickException, click.exceptions.Exit, click.Abort, KeyboardInterrupt,
                BrokenPipeError):
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


class OneLineCommand(click.Command):
    """A command whose usage errors print one line, ``Error: ...``, without the usage text."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Parse as usual; drop the context from usage errors so click prints only the message."""
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            exc.ctx = None
            raise

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; usage errors raised in its body lose the context too."""
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            exc.ctx = None
            raise


class DefaultGroup(click.Group):
    """A group whose first argument is an image unless it names a sub-command."""

    default_command = "extract"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        """Route ``chromapal IMAGE ...`` to the default command."""
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help", "--version"):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        """Run the command; a reader that closed standard output ends the run quietly."""
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # here, not at exit, so a closed pipe is caught below
            return result
        except BrokenPipeError:
            quiet_exit_after_broken_pipe()


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


@click.group(cls=DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="chromapal")
def main() -> None:
    """Find the colour palette of images: chromapal IMAGE... [-k 8] [--json].

    Without a command, prints each IMAGE's dominant colours (the `extract` command).
    """


@main.command("extract", cls=OneLineCommand)
@click.argument("images", nargs=-1, required=True)
@extract_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("-o", "--output", metavar="FILE",
              help="Write the palette to FILE; the format follows its extension (see --format).")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)),
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
    """
    from .cli_theme import cleaned_palette, export_format, parse_ignore, write_export
    from .export.data import palette_dict
    from .names import nearest_names

    export = export_format(output, fmt, images)
    as_json = as_json or export == "json" and output is None
    if as_json or export == "json":
        options["delta_e"] = True  # the JSON carries the palette's exact error (issue 12)
    cleanup: dict[str, Any] = {"ignore": parse_ignore(None, None, ignore), "ignore_tolerance": ignore_tolerance,
               "merge": merge, "min_share": min_share, "sort": sort}
    console = PipeConsole(highlight=False, soft_wrap=True)
    color = use_color()
    results: list[dict[str, Any]] = []
    failed = 0
    for image in images:
        try:
            palette = cleaned_palette(image, **cleanup, **options)
        except click.ClickException as exc:
            if export and not as_json:
                raise
            click.echo(f"Error: {exc.format_message()}", err=True)
            failed += 1
            continue
        if palette.note:
            click.echo(f"note: {palette.source}: {palette.note}", err=True)
        if export and not as_json:
            write_export(palette, export, output, names=names)
            continue
        if as_json:
            results.append(palette_dict(palette))
            continue
        if len(images) > 1 or color:
            header = f"{palette.source}  ({len(palette)} colours, {palette.space})"
            console.print(header, style="bold" if color else None)
        css, xkcd = nearest_names(palette.colors, "css"), nearest_names(palette.colors, "xkcd")
        lines = palette_lines(palette, color=color)
        for line, css_name, xkcd_name in zip(lines, css, xkcd, strict=True):
            column = f"  {css_name:<20} {xkcd_name}"
            console.print(line + column if isinstance(line, str) else Text.assemble(line, column))
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
        raise click.UsageError(
            f"{path}: unknown output format {ext or '(none)'!r}; expected one of {', '.join(allowed)}"
        )
    for image in inputs:
        if image != "-" and Path(image).exists() and out.exists() and out.resolve() == Path(image).resolve():
            raise click.UsageError(f"{path}: refusing to overwrite the input image")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise click.UsageError(f"{path}: folder {str(parent)!r} does not exist")
    if not os.access(parent, os.W_OK):
        raise click.UsageError(f"{path}: folder {str(parent)!r} is not writable")
    return out


from .cli_theme import theme_command  # noqa: E402 - registers `chromapal theme`

main.add_command(theme_command)


# The picture commands live in their own modules, which need the helpers above.
from .cli_pictures import COMMANDS as _PICTURE_COMMANDS  # noqa: E402
from .cli_report import COMMANDS as _REPORT_COMMANDS  # noqa: E402

for _command in [*_PICTURE_COMMANDS, *_REPORT_COMMANDS]:
    main.add_command(_command)


# Batch storage and search of many palettes (batch, export, search) live in cli_batch.
from .cli_batch import batch_command, export_command, search_command  # noqa: E402

main.add_command(batch_command)
main.add_command(export_command)
main.add_command(search_command)


# The local web app (`chromapal serve`); its dependencies are imported only when it runs.
from .cli_web import serve_command  # noqa: E402

main.add_command(serve_command)
