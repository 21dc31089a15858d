"""The ``batch`` command: store the palettes of many images in an SQLite database."""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

import click

from typing import TYPE_CHECKING

from ..errors import PaletteError
from .collections import DB_OPTION, open_store
from .common import OneLineCommand, extract_options, handle_errors
from .defaults import BATCH_TIMEOUT as DEFAULT_TIMEOUT
from .progress import Reporter

if TYPE_CHECKING:
    from ..batch import BatchSummary


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
@extract_options(k_range=True)
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
    (IIIF manifests and collections: every canvas's image) or @LIST files of paths and
    URLs, one per line. Images already stored with the same
    size, modification time and options are skipped; a failed image is recorded with its
    reason and the run goes on; an image past --timeout is stopped and recorded as failed.
    Ctrl-C finishes the images in progress and stops. With a k range (-k 1-10) every
    image's palette is stored for each k.
    """
    from ..batch import BatchOptions, expand_batch_inputs, run_batch

    timeout = options.pop("timeout")
    timeout = DEFAULT_TIMEOUT if timeout is None else timeout or None  # 0: no limit
    ks = options.pop("k")
    ks = ks if isinstance(ks, list) else [ks]
    try:
        found = expand_batch_inputs(inputs)  # IIIF manifests and collections: their canvases
        sources = found.sources
        runs = [BatchOptions(k=k, **options) for k in ks]
    except (PaletteError, ValueError) as exc:
        raise click.ClickException(str(exc)) from exc
    if not sources and not found.failures:
        raise click.ClickException(f"{' '.join(inputs)}: no image files match")
    store = open_store(db, create=True)
    interrupt = _Interrupt()
    previous = (
        signal.signal(signal.SIGINT, interrupt)
        if threading.current_thread() is threading.main_thread()
        else None
    )
    try:  # a k range in one run: each image decoded and counted once, clustered per k
        reporter = Reporter(len(sources) * len(ks) + len(found.failures), enabled=show_progress,
                            label="batch" if len(ks) == 1 else f"batch, {len(ks)} palettes per image")
        try:
            summary = run_batch(
                sources, store, runs, workers=workers, scheduler=scheduler, timeout=timeout,
                progress=reporter, should_stop=interrupt.event.is_set, inputs=inputs,
                canvases=found.canvases, failures=found.failures,
            )
        finally:
            reporter.close()
    except PaletteError as exc:
        raise click.ClickException(str(exc)) from exc
    finally:
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
