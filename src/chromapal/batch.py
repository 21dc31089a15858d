"""Palettes of many images into a database: expand inputs, extract in parallel, store results.

The worker function `process` (`chromapal.batch_worker`) takes a source and plain options
and returns a plain, picklable dict; it never raises, so one bad image never stops a
batch. IIIF manifests and collections among the inputs are expanded into their canvases
first (`expand_batch_inputs`); a canvas is stored under its Image API service (or image
URL) with its manifest, canvas, label and rights, and at most `PER_HOST` downloads
from one host run at once. `run_batch` sends sources to a local
`chromapal.workers.WorkerPool`, or to a Dask cluster when given a scheduler address
(`chromapal.batch_runners`), and hands each result to the single writer as it arrives,
which commits many palettes per transaction (`chromapal.store_write.StoreWriter`: every
`COMMIT_EVERY` palettes or `COMMIT_SECONDS`, always at the end). A k range is one run:
each image is decoded and counted once and clustered once per k still to do. Progress
goes to a callback; this module never prints.

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
from .batch_hosts import HostGate
from .batch_runners import IN_FLIGHT_PER_WORKER, Job, Sink, run_dask, run_inline, run_pool  # noqa: F401 - API
from .batch_worker import process
from .colorspace import canonical_space
from .pipeline import extract
from .sources import (  # noqa: F401 - part of this API
    IMAGE_EXTENSIONS,
    expand_batch_inputs,
    expand_inputs,
    file_stamp,
)
from .store import PaletteStore, options_key
from .store_write import COMMIT_EVERY, COMMIT_SECONDS

#: Seconds each image may take (download, decoding, clustering) unless told otherwise.
DEFAULT_TIMEOUT: Final = 30.0
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
    options: BatchOptions | Sequence[BatchOptions],
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
    commit_every: int = COMMIT_EVERY,
    commit_seconds: float = COMMIT_SECONDS,
) -> BatchSummary:
    """Extract and store the palettes of `sources`, skipping those already stored.

    Parameters
    ----------
    sources : list of str
        Absolute paths and URLs, e.g. from `expand_inputs`.
    store : PaletteStore
        The database; this function is its only writer while it runs.
    options : BatchOptions or sequence of BatchOptions
        Extraction options; with each file's size and modification time they form
        the "done" key, so changed files and new options are processed again. Several
        (a k range: the same options but k) decode and count each image once and
        cluster it once per k still to do; counts and the total are then per palette.
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
    commit_every, commit_seconds : int, float
        Palettes are committed in groups (`chromapal.store_write.StoreWriter`): every
        `commit_every` palettes or `commit_seconds`, and always at the end, on a stop and
        on an exception; a kill loses only palettes not yet committed, redone next run.

    Raises
    ------
    PaletteError
        If `scheduler` is given but Dask is not installed or the scheduler cannot be reached.
    ValueError
        If several options differ in more than k.
    """
    started = time.perf_counter()
    runs = [options] if isinstance(options, BatchOptions) else list(options)
    if len({options_key({**o.as_dict(), "k": None}) for o in runs}) != 1:
        raise ValueError("the options of one batch may differ in k only")
    keys = [o.key for o in runs]
    run_ids = [store.start_run(key, list(inputs) or sources[:1000], __version__) for key in keys]
    state = Progress(total=len(sources) * len(runs) + len(failures))
    counts = [Progress(total=len(sources)) for _ in runs]  # per k, for the runs table
    reasons: list[str] = []
    stop = should_stop or (lambda: False)
    canvases = canvases or {}
    left: dict[str, list[int]] = {}  # source -> the runs still to do (a k range only)
    ks: dict[str, list[Any]] = {}  # source -> their k

    def todo() -> Iterator[str]:
        for source in sources:
            if stop():  # also while skipping a long run of done images
                return
            stamp = file_stamp(source)
            undone = [i for i, key in enumerate(keys) if not store.is_done(source, *stamp, key)]
            for i in range(len(keys)):
                if i not in undone:
                    state.skipped += 1
                    counts[i].skipped += 1
            if len(runs) > 1 and undone:
                left[source], ks[source] = undone, [runs[i].k for i in undone]
            if len(undone) < len(keys):
                state.source = source
                if progress:
                    progress(state)
            if undone:
                yield source

    def record(result: Record) -> None:
        state.source = result["source"]
        ks.pop(state.source, None)
        which = left.pop(state.source, [0])
        if result["ok"]:
            for i, palette in zip(which, result.get("palettes") or [{}], strict=True):
                writer.add_palette({**result, **palette}, keys[i], run_id=run_ids[i])
                state.done += 1
                counts[i].done += 1
        else:
            for i in which:
                writer.add_failure(result, keys[i], run_id=run_ids[i])
                state.failed += 1
                counts[i].failed += 1
            if len(reasons) < FIRST_REASONS:
                reasons.append(result["reason"])
        if progress:
            progress(state)

    n_workers = workers or os.cpu_count() or 1
    writer = store.writer(every=commit_every, seconds=commit_seconds)
    try:
        with writer:  # commits what is waiting however the block ends
            for failure in failures:
                record({"ok": False, "size": None, "mtime_ns": None, **failure})
            gate = HostGate(todo(), per_host, canvases)
            job = Job(runs[0].as_dict(), timeout, canvases, ks, process)
            sink = Sink(record, writer.tick, stop)
            if scheduler:
                run_dask(scheduler, gate, job, sink, DASK_CONNECT_TIMEOUT)
            elif n_workers == 1 and timeout is None:
                run_inline(gate, job, sink)
            else:
                run_pool(n_workers, gate, job, sink)
    finally:
        # Every source is skipped, done or failed unless the run was stopped or broke off.
        interrupted = state.finished < state.total
        for run_id, count in zip(run_ids, counts, strict=True):
            store.finish_run(
                run_id, done=count.done, skipped=count.skipped, failed=count.failed, interrupted=interrupted
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
