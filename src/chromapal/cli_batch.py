"""The ``batch``, ``export`` and ``search`` commands: many palettes in an SQLite database."""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table
from rich.text import Text

from .batch import (
    DEFAULT_TIMEOUT,
    BatchOptions,
    BatchSummary,
    Progress,
    expand_inputs,
    run_batch,
)
from .cli import (
    FiniteFloatRange,
    OneLineCommand,
    PipeConsole,
    extract_options,
    handle_errors,
    quiet_exit_after_broken_pipe,
    use_color,
)
from .errors import InvalidColorError, PaletteError
from .palette import parse_hex, text_color_for
from .search import Match, search
from .store import PaletteStore
from .store_export import EXPORT_FORMATS, export

DB_OPTION = click.option(
    "--db",
    type=click.Path(dir_okay=False, path_type=Path),
    default="palettes.sqlite",
    show_default=True,
    help="SQLite database of palettes.",
)
#: Seconds between plain progress lines when standard error is not a terminal.
PLAIN_PROGRESS_EVERY = 5.0


def open_store(db: Path, *, create: bool) -> PaletteStore:
    """Open the database, turning a missing or foreign file into a one-line error."""
    try:
        return PaletteStore(db, create=create)
    except PaletteError as exc:
        raise click.ClickException(str(exc)) from exc


# -- batch -------------------------------------------------------------------------------


class _RateColumn(ProgressColumn):
    """Images per second, from Rich's own speed estimate."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:5.1f} img/s" if speed else "  ?   img/s", style="progress.data.speed")


class _Reporter:
    """Progress callback: a Rich bar on a terminal, otherwise a plain line every few seconds."""

    def __init__(self, total: int, *, enabled: bool) -> None:
        self.console = Console(stderr=True, highlight=False)
        self.total = total
        self.enabled = enabled
        self.bar: RichProgress | None = None
        self.started = self.last_line = time.monotonic()
        if enabled and self.console.is_terminal:
            self.bar = RichProgress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _RateColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[failed]} failed"),
                console=self.console,
                transient=False,
            )
            self.task = self.bar.add_task("batch", total=total, failed=0)
            self.bar.start()

    def __call__(self, state: Progress) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(self.task, completed=state.finished, failed=state.failed)
            return
        now = time.monotonic()
        if now - self.last_line >= PLAIN_PROGRESS_EVERY or state.finished == self.total:
            self.last_line = now
            click.echo(self.plain_line(state, now - self.started), err=True)

    def plain_line(self, state: Progress, elapsed: float) -> str:
        """``batch: 120/1000 (12%), 5.3 img/s, ETA 2m46s, 3 failed``."""
        rate = (state.done + state.failed) / elapsed if elapsed > 0 else 0.0
        left = self.total - state.finished
        eta = _duration(left / rate) if rate > 0 else "?"
        percent = 100 * state.finished / self.total if self.total else 100
        return (
            f"batch: {state.finished}/{self.total} ({percent:.0f}%), {rate:.1f} img/s, ETA {eta}, "
            f"{state.failed} failed"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def summary_lines(summary: BatchSummary, db: Path) -> list[str]:
    """Return the end-of-run summary: counts, time, rate, and the first failure reasons."""
    head = "Interrupted: " if summary.interrupted else ""
    lines = [
        f"{head}{summary.done} done, {summary.skipped} skipped, {summary.failed} failed "
        f"in {summary.seconds:.1f} s ({summary.rate:.1f} images/s) -> {db}"
    ]
    if summary.interrupted:
        left = summary.total - summary.done - summary.skipped - summary.failed
        lines.append(f"{left} not started; run the same command again to continue")
    if summary.reasons:
        lines.append("First failures:")
        lines += [f"  {reason}" for reason in summary.reasons]
        if summary.failed > len(summary.reasons):
            lines.append(
                f"  ... and {summary.failed - len(summary.reasons)} more (see the failures table)"
            )
    return lines


class _Interrupt:
    """First Ctrl-C: stop starting new images and finish the current writes. Second: abort."""

    def __init__(self) -> None:
        self.event = threading.Event()

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        if self.event.is_set():
            raise KeyboardInterrupt
        self.event.set()
        click.echo(
            "\nInterrupted: finishing the images in progress (Ctrl-C again to abort)...", err=True
        )


@click.command("batch", cls=OneLineCommand)
@click.argument("inputs", nargs=-1, required=True)
@extract_options
@DB_OPTION
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=None,
    help="Local worker processes.  [default: all cores]",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Run on a Dask cluster instead, e.g. tcp://10.0.0.5:8786.",
)
@click.option(
    "--progress/--no-progress",
    "show_progress",
    default=True,
    show_default=True,
    help="Show a progress bar (plain lines when not a terminal).",
)
@handle_errors
def batch_command(
    inputs: tuple[str, ...],
    db: Path,
    workers: int | None,
    scheduler: str | None,
    show_progress: bool,
    **options: Any,
) -> None:
    """Store the palettes of many images in an SQLite database.

    INPUTS are image files, folders (searched recursively), glob patterns, http(s) URLs
    or @LIST files of paths and URLs, one per line. Images already stored with the same
    size, modification time and options are skipped; a failed image is recorded with its
    reason and the run goes on; an image past --timeout is stopped and recorded as failed.
    Ctrl-C finishes the images in progress and stops.
    """
    timeout = options.pop("timeout")
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout or None  # 0: no limit
    try:
        sources = expand_inputs(inputs)
        batch_options = BatchOptions(**options)
    except (PaletteError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    store = open_store(db, create=True)
    reporter = _Reporter(len(sources), enabled=show_progress)
    interrupt = _Interrupt()
    previous = (
        signal.signal(signal.SIGINT, interrupt)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    try:
        summary = run_batch(
            sources,
            store,
            batch_options,
            workers=workers,
            scheduler=scheduler,
            timeout=timeout,
            progress=reporter,
            should_stop=interrupt.event.is_set,
            inputs=inputs,
        )
    except PaletteError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
        reporter.close()
        store.close()
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    for line in summary_lines(summary, db):
        click.echo(line)
    if summary.interrupted:
        sys.exit(130)
    if summary.failed:
        sys.exit(1)


for _param in batch_command.params:  # batch enforces the deadline on every image by default
    if _param.name == "timeout":
        _param.help = (
            "Seconds each image may take (download, decoding, clustering); past it the image "
            f"is recorded as failed and the run goes on; 0: no limit.  [default: {DEFAULT_TIMEOUT:g}]"
        )


# -- export ------------------------------------------------------------------------------


@click.command("export", cls=OneLineCommand)
@DB_OPTION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    default=None,
    help="Output format.  [default: from the extension of -o]",
)
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="FILE",
    help="File to write; - writes csv or jsonl to standard output.",
)
@handle_errors
def export_command(db: Path, fmt: str | None, output: str) -> None:
    """Export the stored palettes: CSV or Parquet (a row per colour), JSON Lines (one per image)."""
    store = open_store(db, create=False)
    try:
        fmt = fmt or _format_from_name(output)
        if output == "-" and fmt == "parquet":
            raise click.UsageError(
                "Parquet cannot be written to standard output; give a file with -o"
            )
        if output != "-" and not Path(output).resolve().parent.is_dir():
            raise click.UsageError(f"{output}: folder {str(Path(output).parent)!r} does not exist")
        n = export(store, fmt, sys.stdout if output == "-" else output)
    except PaletteError as exc:
        raise click.ClickException(str(exc)) from exc
    except BrokenPipeError:  # `chromapal export -o - | head`: the reader has all it wants
        store.close()
        quiet_exit_after_broken_pipe()
    except OSError as exc:  # disk full, permissions: nothing is left under the output name
        raise click.ClickException(f"{output}: cannot write ({exc.strerror or exc})") from exc
    finally:
        store.close()
    if output != "-":
        unit = "palettes" if fmt == "jsonl" else "colours"
        click.echo(f"Wrote {n} {unit} to {output}", err=True)


def _format_from_name(output: str) -> str:
    fmt = Path(output).suffix.lower().lstrip(".")
    if fmt not in EXPORT_FORMATS:
        raise click.UsageError(
            f"cannot tell the format of {output!r}; give --format ({', '.join(EXPORT_FORMATS)})"
        )
    return fmt


# -- search ------------------------------------------------------------------------------


def _parse_color(ctx: click.Context, param: click.Parameter, value: str) -> str:
    try:
        parse_hex(value)
    except InvalidColorError as exc:
        raise click.BadParameter(str(exc)) from exc
    return value


@click.command("search", cls=OneLineCommand)
@DB_OPTION
@click.option(
    "--color",
    "--colour",
    "color",
    required=True,
    callback=_parse_color,
    metavar="HEX",
    help="Colour to look for, e.g. '#c1a4a9'.",
)
@click.option(
    "--max-delta-e",
    type=FiniteFloatRange(0, min_open=True),
    default=10.0,
    show_default=True,
    help="Largest CIEDE2000 difference accepted.",
)
@click.option(
    "--min-share",
    type=FiniteFloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Ignore palette colours covering less of their image than this (0-1).",
)
@click.option(
    "--limit", type=click.IntRange(1), default=20, show_default=True, help="Images shown at most."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@handle_errors
def search_command(
    db: Path, color: str, max_delta_e: float, min_share: float, limit: int, as_json: bool
) -> None:
    """Find stored images whose palette holds a colour near --color (closest first)."""
    store = open_store(db, create=False)
    try:
        matches = search(store, color, max_delta_e=max_delta_e, min_share=min_share, limit=limit)
    finally:
        store.close()
    if as_json:
        click.echo(json.dumps([m.to_dict() for m in matches], indent=2))
        return
    if not matches:
        click.echo(f"No stored image has a colour within ΔE {max_delta_e:g} of {color}.")
        return
    if use_color():
        PipeConsole(highlight=False).print(match_table(matches))
        return
    click.echo(f"{'ΔE':>6}  {'share':>6}  {'colour':<7}  {'rank':>4}  source")
    for m in matches:
        click.echo(f"{m.delta_e:6.2f}  {m.share * 100:5.1f}%  {m.hex}  {m.rank:4d}  {m.source}")


def match_table(matches: list[Match]) -> Table:
    """Return a Rich table of matches for terminals: ΔE, share, colour swatch, rank, source."""
    table = Table(box=None, pad_edge=False, show_edge=False)
    for name, justify in (
        ("ΔE", "right"),
        ("share", "right"),
        ("colour", "left"),
        ("rank", "right"),
        ("source", "left"),
    ):
        table.add_column(name, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for m in matches:
        swatch = Text(f" {m.hex} ", style=f"{text_color_for(parse_hex(m.hex))} on {m.hex}")
        table.add_row(f"{m.delta_e:.2f}", f"{m.share * 100:.1f}%", swatch, str(m.rank), m.source)
    return table
