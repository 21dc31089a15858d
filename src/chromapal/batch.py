"""Palettes of many images into a database: expand inputs, extract in parallel, store results.

The worker function `process` (`chromapal.batch_worker`) takes a source and plain options
and returns a plain, picklable dict; it never raises, so one bad image never stops a
batch. IIIF manifests and collections among the inputs are expanded into their canvases
first (`expand_batch_inputs`); a canvas is stored under its Image API service (or image
URL) with its manifest, canvas, label and rights, and at most `PER_HOST` downloads
from one host run at once. `run_batch`
sends sources to a local `chromapal.workers.WorkerPool`, or to a Dask cluster when
given a scheduler address, and writes each result through the single `PaletteStore`
writer as soon as it arrives. Progress goes to a callback; this module never prints.

Each image has a deadline (`DEFAULT_TIMEOUT` seconds): past it, its worker process is
killed and replaced, the image is recorded as failed ("took longer than 30 s") and the
run goes on. On a Dask cluster the deadline bounds downloads only (a Dask task cannot
be stopped from outside); decoding and clustering there run to the end.
"""

from __future__ import annotations

import inspect
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from . import __version__
from .batch_worker import failure_record, one_line, process
from .colorspace import canonical_space
from .errors import PaletteError
from .pipeline import extract
from .batch_hosts import HostGate
from .sources import (  # noqa: F401 - part of this API
    IMAGE_EXTENSIONS,
    expand_batch_inputs,
    expand_inputs,
    file_stamp,
)
from .store import PaletteStore, options_key
from .workers import WorkerPool

#: Seconds each image may take (download, decoding, clustering) unless told otherwise.
DEFAULT_TIMEOUT: Final = 30.0
#: Tasks kept in flight per Dask worker thread: enough to keep them busy, few enough to stop fast.
IN_FLIGHT_PER_WORKER: Final = 4
#: Failure reasons kept in the summary.
FIRST_REASONS: Final = 5
#: Seconds to wait for a Dask scheduler to answer.
DASK_CONNECT_TIMEOUT = 10.0

Record = dict[str, Any]
ProgressCallback = Callable[["Progress"], None]


# The keywords of `extract` (other than the source and the deadline, which is no part of
# the result) and their defaults.
_EXTRACT_DEFAULTS: Final = {
    name: p.default
    for name, p in inspect.signature(extract).parameters.items()
    if name not in ("source", "timeout")
}
#: Images downloaded from one host at a time, at most (IIIF servers and other URLs).
PER_HOST: Final = 4


class BatchOptions:
    """The extraction options of a batch: any keywords of `chromapal.extract` (k, space, ...).

    Their canonical JSON is part of the "done" key. Options left at the default of
    `extract` are not part of it (except k, always shown), so an option added to a later
    chromapal does not make every stored palette look out of date.

    Raises
    ------
    TypeError
        If an option is not a keyword of `extract`.
    ValueError
        If `space` is not a known colour space.
    """

    def __init__(self, **options: Any) -> None:
        unknown = sorted(set(options) - set(_EXTRACT_DEFAULTS))
        if unknown:
            raise TypeError(
                f"unknown extraction option(s) {', '.join(unknown)}; expected keywords of "
                f"chromapal.extract: {', '.join(_EXTRACT_DEFAULTS)}"
            )
        merged = {**_EXTRACT_DEFAULTS, **options}
        merged["space"] = canonical_space(merged["space"])
        self.options: dict[str, Any] = {
            name: value
            for name, value in merged.items()
            if name == "k" or _jsonable(value) != _jsonable(_EXTRACT_DEFAULTS[name])
        }

    def __repr__(self) -> str:
        return f"BatchOptions({self.key})"

    @property
    def k(self) -> Any:
        """Colours asked for: an int, or "auto"."""
        return self.options["k"]

    def as_dict(self) -> dict[str, Any]:
        """Return the non-default options as a plain dict (what workers receive)."""
        return dict(self.options)

    @property
    def key(self) -> str:
        """Canonical JSON text stored with every result."""
        return options_key({name: _jsonable(v) for name, v in self.options.items()})


def _jsonable(value: Any) -> Any:
    """Tuples to lists (recursively), so option values compare and serialise alike."""
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


@dataclass
class Progress:
    """Counts so far, passed to the progress callback after every image."""

    total: int
    done: int = 0
    skipped: int = 0
    failed: int = 0
    source: str | None = None  # the image just finished

    @property
    def finished(self) -> int:
        """Images done, skipped or failed."""
        return self.done + self.skipped + self.failed


@dataclass
class BatchSummary:
    """What a batch run did."""

    total: int
    done: int
    skipped: int
    failed: int
    seconds: float
    interrupted: bool = False
    reasons: list[str] = field(default_factory=list)  # the first few failures, "source: reason"

    @property
    def rate(self) -> float:
        """Images extracted per second."""
        return self.done / self.seconds if self.seconds > 0 else 0.0


# -- the runner --------------------------------------------------------------------------


def run_batch(
    sources: list[str],
    store: PaletteStore,
    options: BatchOptions,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    timeout: float | None = DEFAULT_TIMEOUT,
    progress: ProgressCallback | None = None,
    should_stop: Callable[[], bool] | None = None,
    inputs: Iterable[str] = (),
    canvases: Mapping[str, Mapping[str, Any]] | None = None,
    failures: Sequence[Record] = (),
    per_host: int = PER_HOST,
) -> BatchSummary:
    """Extract and store the palettes of `sources`, skipping those already stored.

    Parameters
    ----------
    sources : list of str
        Absolute paths and URLs, e.g. from `expand_inputs`.
    store : PaletteStore
        The database; this function is its only writer while it runs.
    options : BatchOptions
        Extraction options; with each file's size and modification time they form
        the "done" key, so changed files and new options are processed again.
    workers : int, optional
        Local worker processes (default: all cores), a `chromapal.workers.WorkerPool`:
        a script calling this must guard its entry point with
        ``if __name__ == "__main__":``. With 1 and no `timeout`, images are processed
        in this process.
    scheduler : str, optional
        Address of a Dask scheduler (``tcp://host:8786``); `workers` is then ignored.
    timeout : float or None
        Seconds each image may take; past it the worker is killed and replaced and the
        image recorded as failed. None: no limit. On Dask it bounds downloads only.
    progress : callable, optional
        Called with a `Progress` after every source skipped, stored or failed.
    should_stop : callable, optional
        Polled between results; when it returns True no new work is started, results
        already arriving are stored, and the summary is returned with ``interrupted``.
    inputs : iterable of str
        The command-line inputs, recorded in the ``runs`` table.
    canvases : mapping, optional
        ``{source: canvas}`` for the sources that are IIIF canvases (see
        `chromapal.sources.expand_batch_inputs`): downloaded through their Image API
        service, stored with their IIIF record.
    failures : sequence of dict
        Inputs that failed before the run (a manifest that cannot be read): recorded
        first, as failures (``{"source", "error", "reason"}``).
    per_host : int
        Downloads from one host in flight at most.

    Raises
    ------
    PaletteError
        If `scheduler` is given but Dask is not installed or the scheduler cannot be reached.
    """
    started = time.perf_counter()
    key = options.key
    run_id = store.start_run(key, list(inputs) or sources[:1000], __version__)
    state = Progress(total=len(sources) + len(failures))
    reasons: list[str] = []
    stop = should_stop or (lambda: False)
    canvases = canvases or {}

    def todo() -> Iterator[str]:
        for source in sources:
            if stop():  # also while skipping a long run of done images
                return
            if store.is_done(source, *file_stamp(source), key):
                state.skipped += 1
                state.source = source
                if progress:
                    progress(state)
                continue
            yield source

    def record(result: Record) -> None:
        state.source = result["source"]
        if result["ok"]:
            store.add_palette(result, key, run_id=run_id)
            state.done += 1
        else:
            store.add_failure(result, key, run_id=run_id)
            state.failed += 1
            if len(reasons) < FIRST_REASONS:
                reasons.append(result["reason"])
        if progress:
            progress(state)

    n_workers = workers or os.cpu_count() or 1
    try:
        for failure in failures:
            record({"ok": False, "size": None, "mtime_ns": None, **failure})
        gate = HostGate(todo(), per_host, canvases)
        job = _Job(options.as_dict(), timeout, canvases)
        if scheduler:
            _run_dask(scheduler, gate, job, record, stop)
        elif n_workers == 1 and timeout is None:
            _run_inline(gate, job, record, stop)
        else:
            _run_pool(n_workers, gate, job, record, stop)
    finally:
        # Every source is skipped, done or failed unless the run was stopped or broke off.
        interrupted = state.finished < state.total
        store.finish_run(
            run_id,
            done=state.done,
            skipped=state.skipped,
            failed=state.failed,
            interrupted=interrupted,
        )
    return BatchSummary(
        total=state.total,
        done=state.done,
        skipped=state.skipped,
        failed=state.failed,
        seconds=time.perf_counter() - started,
        interrupted=interrupted,
        reasons=reasons,
    )


@dataclass(frozen=True)
class _Job:
    """What every task of a run shares: the options, the deadline and the IIIF canvases."""

    options: Record
    timeout: float | None
    canvases: Mapping[str, Mapping[str, Any]]

    def args(self, source: str) -> tuple[Any, ...]:
        """Arguments of `process` for `source` (a canvas only when it is one)."""
        canvas = self.canvases.get(source)
        base = (source, self.options, self.timeout)
        return base if canvas is None else (*base, dict(canvas))


def _run_inline(
    gate: HostGate, job: _Job, record: Callable[[Record], None], stop: Callable[[], bool]
) -> None:
    """Run in this process, one image at a time."""
    while (source := gate.take()) is not None:
        record(process(*job.args(source)))
        gate.finished(source)
        if stop():
            return


def _run_pool(
    workers: int,
    gate: HostGate,
    job: _Job,
    record: Callable[[Record], None],
    stop: Callable[[], bool],
) -> None:
    """Run on a `WorkerPool`: an image past its deadline, or whose worker dies, fails alone.

    One task per worker is in flight (dispatch costs a fraction of a millisecond), so a
    stop starts nothing new and only the images already running are finished.
    """
    from concurrent.futures import FIRST_COMPLETED, wait

    pending: dict[Any, str] = {}
    with WorkerPool(workers) as pool:
        while True:
            while not stop() and len(pending) < workers:
                source = gate.take()
                if source is None:
                    break
                pending[pool.submit(process, *job.args(source), timeout=job.timeout)] = source
            if not pending:
                break
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                source = pending.pop(future)
                gate.finished(source)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - deadline or dead worker: this image only
                    result = failure_record(source, exc)
                record(result)


def _run_dask(
    scheduler: str,
    gate: HostGate,
    job: _Job,
    record: Callable[[Record], None],
    stop: Callable[[], bool],
) -> None:
    """Run on a Dask cluster: workers open the images, results stream back to this writer.

    The deadline bounds downloads only: a running Dask task cannot be stopped from outside.
    """
    try:
        from distributed import Client, as_completed
    except ImportError as exc:
        raise PaletteError(
            "--scheduler needs Dask: pip install 'chromapal[dask]' (dask[distributed])"
        ) from exc
    try:
        client = Client(scheduler, timeout=f"{DASK_CONNECT_TIMEOUT}s")
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
            while len(sources) < window and not stop():
                source = gate.take()
                if source is None:
                    return
                future = client.submit(process, *job.args(source), pure=False)
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
            record(result)
            fill()
    finally:
        client.close()
