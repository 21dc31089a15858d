"""Progress of a run over many images: a Rich bar on a terminal, plain lines otherwise.

Rich is imported only when the bar is drawn (standard error is a terminal).
"""

from __future__ import annotations

import sys
import time
from typing import Any, Protocol

import click

#: Seconds between plain progress lines when standard error is not a terminal.
PLAIN_PROGRESS_EVERY = 5.0


class State(Protocol):
    """Counts so far (`chromapal.batch.Progress` is one)."""

    done: int
    failed: int

    @property
    def finished(self) -> int:
        """Images done, skipped or failed."""


def _rate_column() -> Any:
    """A Rich column: images per second, from Rich's own speed estimate."""
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:5.1f} img/s" if speed else "  ?   img/s", style="progress.data.speed")

    return RateColumn()


class Reporter:
    """Progress callback: a Rich bar on a terminal, otherwise a plain line every few seconds.

    Parameters
    ----------
    total
        Images in the run.
    enabled
        False: report nothing.
    label
        The run's name at the start of each line (``batch``, ``pies``).
    """

    def __init__(self, total: int, *, enabled: bool, label: str = "batch") -> None:
        self.total = total
        self.enabled = enabled
        self.label = label
        self.bar: Any = None
        self.started = self.last_line = time.monotonic()
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn("[progress.description]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                _rate_column(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[failed]} failed"),
                console=Console(stderr=True, highlight=False),
                transient=False,
            )
            self.task = self.bar.add_task(label, total=total, failed=0)
            self.bar.start()

    def __call__(self, state: State) -> None:
        """Show `state`: update the bar, or print a line when a few seconds have passed."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(self.task, completed=state.finished, failed=state.failed)
            return
        now = time.monotonic()
        if now - self.last_line >= PLAIN_PROGRESS_EVERY or state.finished == self.total:
            self.last_line = now
            click.echo(self.plain_line(state, now - self.started), err=True)

    def plain_line(self, state: State, elapsed: float) -> str:
        """``batch: 120/1000 (12%), 5.3 img/s, ETA 2m46s, 3 failed``."""
        rate = (state.done + state.failed) / elapsed if elapsed > 0 else 0.0
        left = self.total - state.finished
        eta = duration(left / rate) if rate > 0 else "?"
        percent = 100 * state.finished / self.total if self.total else 100
        return (
            f"{self.label}: {state.finished}/{self.total} ({percent:.0f}%), {rate:.1f} img/s, "
            f"ETA {eta}, {state.failed} failed"
        )

    def close(self) -> None:
        """Stop the bar, if one is drawn."""
        if self.bar is not None:
            self.bar.stop()


def duration(seconds: float) -> str:
    """``42s``, ``2m46s`` or ``1h05m``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
