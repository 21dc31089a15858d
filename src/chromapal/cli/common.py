"""What every ``chromapal`` subcommand shares: option types, options, reading, errors, output paths.

Imports no command. Errors become one line, ``Error: ...``: exit status 2 for a usage
error (unknown extension, unwritable folder, bad k range, missing option), 1 for an
input that cannot be used.

The work on an image (download, decoding, clustering, drawing the pixels) runs with
decoders silenced and, under ``--timeout``, in a child process killed at the deadline
(`within_deadline`); files are written whole or not at all (`writing`).
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import os
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..errors import ImageTimeoutError, PaletteError
from .defaults import INITS, MAX_ERROR, MAX_K, MAX_PIXELS, SPACES
from .errors import EXTRAS, OneLineCommand, extra_hint, for_cli, handle_errors, needs_extra

__all__ = [  # the errors part lives in chromapal.cli.errors; every command imports it from here
    "EXTRAS", "FiniteFloatRange", "KRange", "KType", "OneLineCommand", "cluster_options", "deadline_for",
    "display_name", "extra_hint", "for_cli", "extract_options", "format_option", "handle_errors", "needs_extra", "note",
    "output_option", "output_path", "palette_for", "read_source", "source_of", "timeout_option",
    "user_errors", "within_deadline", "writing",
]

if TYPE_CHECKING:
    from ..palette import Palette

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")

#: Seconds a URL may take on the command line (download, decoding, clustering) when
#: --timeout is not given. Local files and standard input then run without a deadline:
#: the forked child that enforces one costs about 10-15 ms per image (measured, see
#: `within_deadline`), a sizeable share of a 0.35 s run.
DEFAULT_TIMEOUT = 30.0


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
    from ..load import is_url

    if timeout is None:
        return DEFAULT_TIMEOUT if is_url(image) else None
    return timeout or None

class KType(click.ParamType):
    """-k: an integer from 1 to 256, or 'auto'; with `ranges`, also a k range (``1-10``, ``2,4,8``)."""

    name = "k"

    def __init__(self, *, ranges: bool = False) -> None:
        self.ranges = ranges

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Return 'auto', the integer, or (with `ranges`) the sorted list of a k range."""
        if isinstance(value, (int, list)) or value == "auto":
            return value
        text = str(value).strip()
        if text.lower() == "auto":
            return "auto"
        if self.ranges and any(c in text for c in ",-") and not text.startswith("-"):
            return KRange().convert(text, param, ctx)
        return click.IntRange(1, MAX_K).convert(text, param, ctx)


K_TYPE = KType()
K_OR_RANGE = KType(ranges=True)
SPACE_CHOICE = click.Choice(sorted(SPACES) + ["lab", "rgb"], case_sensitive=False)


def extract_options(func: F | None = None, *, k_range: bool = False) -> Any:
    """The clustering options shared by every command that extracts a palette.

    With `k_range`, ``-k`` also takes a range (``1-10``, ``2,4,8``): a list of k values.
    """
    if func is None:
        return functools.partial(extract_options, k_range=k_range)
    k_help = "Number of colours (1-256), or 'auto' for the fewest within --max-error"
    k_help += "; a range (1-10, 2,4,8) gives one palette per k." if k_range else "."
    options = [
        click.option("-k", "--colors", "--colours", "k", type=K_OR_RANGE if k_range else K_TYPE, default="8",
                     show_default=True, help=k_help),
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


def palette_for(image: str, **options: Any) -> Any:
    """Extract the palette of IMAGE, turning user errors into one-line ``click`` errors.

    A list ``k`` (a k range) gives a list of palettes, one per k, from one decode
    (`chromapal.many.extract_many`). The ``timeout`` option (the ``--timeout`` value, see `deadline_for`) runs
    everything - reading standard input, downloading, decoding, clustering - in a child
    process killed at the deadline (see `within_deadline`).
    """
    from ..load import quiet_decoders

    timeout = deadline_for(image, options.pop("timeout", None))
    try:
        if timeout is None:
            source = read_source(image)
            with quiet_decoders():  # decoders' own warnings and logs would break the one-line error
                palette = extract_any(source, **options)
        else:
            palette = within_deadline(
                display_name(image), timeout, read_and_extract, image, timeout, options
            )
    except PaletteError as exc:
        raise click.ClickException(for_cli(str(exc))) from exc
    except MemoryError as exc:
        raise click.ClickException(f"{image}: out of memory while decoding the image") from exc
    except (ValueError, TypeError, OSError) as exc:
        raise click.ClickException(f"{image}: {' '.join(str(exc).split()) or type(exc).__name__}") from exc
    return palette


def extract_any(source: Any, **options: Any) -> Any:
    """`chromapal.extract`, or `chromapal.many.extract_many` when ``k`` is a list of k values."""
    if isinstance(options.get("k"), list):
        from ..many import extract_many

        return extract_many(source, options.pop("k"), **options)
    from ..pipeline import extract

    return extract(source, **options)


def read_and_extract(image: str, timeout: float | None, options: dict[str, Any]) -> Any:
    """Read IMAGE (standard input, a URL within `timeout`, a path) and extract its palette(s)."""
    from ..workers import fetch_within

    deadline = time.monotonic() + (float("inf") if timeout is None else timeout)
    return extract_any(fetch_within(read_source(image), deadline), **options)


def within_deadline(
    image: str, timeout: float | None, func: Callable[..., T], /, *args: Any, **kwargs: Any
) -> T:
    """Run ``func(*args, **kwargs)`` for IMAGE with decoders silenced, under the deadline.

    With a `timeout` the call runs in a forked child killed after that many seconds
    (`chromapal.workers.run_with_deadline`); its result must be picklable. Raises
    `ImageTimeoutError` naming IMAGE; other errors pass through unchanged.
    """
    from ..load import quiet_decoders
    from ..workers import WorkerCrashedError, run_with_deadline

    try:
        with quiet_decoders():
            if timeout is None:
                return func(*args, **kwargs)
            return run_with_deadline(func, *args, timeout=timeout, **kwargs)
    except (ImageTimeoutError, WorkerCrashedError) as exc:
        raise type(exc)(f"{image}: {exc}") from None


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


class KRange(click.ParamType):
    """A k range: ``1-10``, ``2,4,8`` or ``2-6,10`` (see `chromapal.render.parse_ks`)."""

    name = "RANGE"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> list[int]:
        """Parse `value` into a sorted list of k values."""
        if isinstance(value, list):
            return value
        from ..render.common import parse_ks

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


def output_option(formats: Iterable[str], *, required: bool = True, several: bool = True) -> Callable[[F], F]:
    """``-o/--output FILE``: the format follows the extension; a folder for several images."""
    folder = "; a folder (one file per image) when several images are given" if several else ""
    return click.option(
        "-o",
        "--output",
        "output",
        metavar="FILE" if not several else "FILE|DIR",
        required=required,
        help=f"File to write; the extension picks the format ({', '.join(formats)}){folder}.",
    )


def format_option(formats: Iterable[str], default: str) -> Callable[[F], F]:
    """``--format``: the format of the files written into an ``-o`` folder."""
    return click.option(
        "--format", "fmt", type=click.Choice(list(formats)), default=default, show_default=True,
        help="Format of the files written when -o is a folder.",
    )


def source_of(image: str, timeout: float | None = None) -> Any:
    """IMAGE as the library takes it: ``-`` (standard input) and URLs read once into bytes.

    The picture commands read their image more than once (palette, then pixels). Called
    inside the deadline, so a stalled standard input or server is cut off too.
    """
    from ..load import is_url
    from ..workers import fetch_within

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
        raise click.ClickException(for_cli(message)) from exc
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
    from ..export.atomic import atomic_path

    try:
        with atomic_path(path) as temporary:
            yield temporary
    except OSError as exc:
        raise click.ClickException(f"{path}: cannot write ({exc.strerror or exc})") from exc


def note(palette: Palette) -> None:
    """Tell the user (on standard error) anything the palette's `note` says."""
    if palette.note:
        click.echo(f"note: {palette.source}: {palette.note}", err=True)


