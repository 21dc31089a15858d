"""Where a batch's images are processed: in this process, on a local worker pool, or on Dask.

Each runner takes sources from a `chromapal.batch_hosts.HostGate`, runs
`chromapal.batch_worker.process` on them and hands every result to `record` (the
single writer, in this process) as soon as it arrives; between results it calls
`idle`, which lets the writer commit palettes that have waited long enough. A
`should_stop` that returns True starts nothing new; the images already running are
finished and recorded.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from .batch_hosts import HostGate
from .batch_worker import failure_record, one_line, one_thread_kernels, process
from .errors import PaletteError
from .sources import file_stamp
from .workers import WorkerPool

Record = dict[str, Any]
#: Tasks kept in flight per Dask worker thread: enough to keep them busy, few enough to stop fast.
IN_FLIGHT_PER_WORKER: Final = 4
#: Seconds the pool runner waits for a result before it lets the writer commit.
POLL_SECONDS: Final = 0.1


@dataclass(frozen=True)
class Job:
    """What every task of a run shares: the options, the deadline, the IIIF canvases, the k range.

    `ks` maps a source to the k values still to do when the run has several (a k
    range); a run of one k leaves it empty and each task returns one palette.
    """

    options: Record
    timeout: float | None
    canvases: Mapping[str, Mapping[str, Any]]
    ks: dict[str, list[Any]] = field(default_factory=dict)
    func: Callable[..., Record] = process  # what a task runs (tests put a stalling one here)

    def args(self, source: str) -> tuple[Any, ...]:
        """Arguments of `process` for `source` (a canvas and ks only when there are)."""
        canvas = self.canvases.get(source)
        ks = self.ks.get(source)
        base: tuple[Any, ...] = (source, self.options, self.timeout)
        if canvas is None and ks is None:
            return base
        return (*base, None if canvas is None else dict(canvas), ks)


@dataclass(frozen=True)
class Sink:
    """Where results go: `record` stores one, `idle` is called while waiting, `stop` is polled."""

    record: Callable[[Record], None]
    idle: Callable[[], None]
    stop: Callable[[], bool]


def run_inline(gate: HostGate, job: Job, sink: Sink) -> None:
    """Run in this process, one image at a time."""
    while (source := gate.take()) is not None:
        sink.record(job.func(*job.args(source)))
        gate.finished(source)
        if sink.stop():
            return


def run_pool(workers: int, gate: HostGate, job: Job, sink: Sink) -> None:
    """Run on a `WorkerPool`: an image past its deadline, or whose worker dies, fails alone.

    One task per worker is in flight (dispatch costs a fraction of a millisecond), so a
    stop starts nothing new and only the images already running are finished. With a
    worker per core (or more), each worker's kernels run on its own thread alone.
    """
    import os
    from concurrent.futures import FIRST_COMPLETED, wait

    pending: dict[Any, str] = {}
    busy = workers >= (os.cpu_count() or 1)
    with WorkerPool(workers, initializer=one_thread_kernels if busy else None) as pool:
        while True:
            while not sink.stop() and len(pending) < workers:
                source = gate.take()
                if source is None:
                    break
                pending[pool.submit(job.func, *job.args(source), timeout=job.timeout)] = source
            if not pending:
                break
            finished, _ = wait(pending, timeout=POLL_SECONDS, return_when=FIRST_COMPLETED)
            for future in finished:
                source = pending.pop(future)
                gate.finished(source)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - deadline or dead worker: this image only
                    result = failure_record(source, exc)
                sink.record(result)
            sink.idle()


def run_dask(scheduler: str, gate: HostGate, job: Job, sink: Sink, connect_timeout: float) -> None:
    """Run on a Dask cluster: workers open the images, results stream back to this writer.

    `connect_timeout` is the seconds to wait for the scheduler to answer.
    The deadline bounds downloads only: a running Dask task cannot be stopped from outside.
    """
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise PaletteError(
            "--scheduler needs Dask: pip install 'chromapal[dask]' (dask[distributed])"
        ) from exc
    try:
        client = Client(scheduler, timeout=f"{connect_timeout}s")
    except (OSError, TimeoutError, ValueError) as exc:
        raise PaletteError(
            f"cannot reach the Dask scheduler at {scheduler} ({one_line(exc)})"
        ) from exc
    try:
        n_workers = max(
            1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        )
        window = n_workers * IN_FLIGHT_PER_WORKER
        futures = as_completed()
        sources: dict[Any, str] = {}  # future key -> source

        def fill() -> None:
            while len(sources) < window and not sink.stop():
                source = gate.take()
                if source is None:
                    return
                future = client.submit(job.func, *job.args(source), pure=False)
                sources[future.key] = source
                futures.add(future)

        fill()
        for future in futures:
            source = sources.pop(future.key)
            gate.finished(source)
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - a lost worker fails the task, not the run
                size, mtime_ns = file_stamp(source)
                result = {
                    "source": source,
                    "ok": False,
                    "size": size,
                    "mtime_ns": mtime_ns,
                    "error": type(exc).__name__,
                    "reason": f"{source}: dask task failed ({one_line(exc)})",
                }
            sink.record(result)
            fill()
    finally:
        client.close()
