"""Palettes of many images into a database: expand inputs, extract in parallel, store results.

The worker function `process` takes a source and plain options and returns a plain,
picklable dict; it never raises, so one bad image never stops a batch. `run_batch`
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
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from . import __version__
from .colorspace import canonical_space
from .errors import ImageTimeoutError, PaletteError
from .load import DRAFT_ABOVE, MAX_PIXELS, load_image
from .pipeline import extract, extract_palette
from .sources import IMAGE_EXTENSIONS, expand_inputs, file_stamp  # noqa: F401 - part of this API
from .store import PaletteStore, options_key
from .workers import WorkerCrashedError, WorkerPool, fetch_within

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
# Options that go to `load_image`; every other one goes to `extract_palette`.
_LOAD_OPTIONS: Final = frozenset({"frames", "max_pixels", "draft"})


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


# -- the worker --------------------------------------------------------------------------


def process(source: str, options: Mapping[str, Any], timeout: float | None = None) -> Record:
    """Extract the palette of one source; return a plain dict and never raise.

    Returns ``{"source", "ok": True, "size", "mtime_ns", "width", "height", "colors",
    "shares", "note", "k", "space", "load_ms", "extract_ms"}`` on success, or
    ``{"source", "ok": False, "size", "mtime_ns", "error", "reason"}`` where `error` is
    the exception's class name and `reason` its one-line message. `timeout` (seconds)
    bounds a URL's download; the caller enforces it on the rest by killing the worker.
    """
    size, mtime_ns = file_stamp(source)  # before reading: a later change is seen next run
    record: Record = {"source": source, "size": size, "mtime_ns": mtime_ns}
    try:
        t0 = time.perf_counter()
        if timeout is not None:
            source_or_data = fetch_within(source, time.monotonic() + timeout)
        else:
            source_or_data = source
        loaded = load_image(
            source_or_data,
            frames=options.get("frames", "first"),
            max_pixels=options.get("max_pixels", MAX_PIXELS),
            draft_above=DRAFT_ABOVE if options.get("draft", True) else None,
        )
        t1 = time.perf_counter()
        rest = {name: v for name, v in options.items() if name not in _LOAD_OPTIONS}
        palette = extract_palette(loaded.pixels, **rest, source=loaded.name)
        t2 = time.perf_counter()
    except PaletteError as exc:
        return {**record, "ok": False, "error": type(exc).__name__, "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a worker must return, whatever the decoder does
        return {
            **record,
            "ok": False,
            "error": type(exc).__name__,
            "reason": f"{source}: {_one_line(exc)}",
        }
    height, width = loaded.pixels.shape[:2]
    return {
        **record,
        "ok": True,
        "width": width * loaded.scale,
        "height": height * loaded.scale,
        "colors": palette.colors.tolist(),
        "shares": palette.proportions.tolist(),
        "note": palette.note,
        "k": palette.k,
        "space": palette.space,
        "load_ms": (t1 - t0) * 1000,
        "extract_ms": (t2 - t1) * 1000,
    }


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


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

    Raises
    ------
    PaletteError
        If `scheduler` is given but Dask is not installed or the scheduler cannot be reached.
    """
    started = time.perf_counter()
    key = options.key
    run_id = store.start_run(key, list(inputs) or sources[:1000], __version__)
    state = Progress(total=len(sources))
    reasons: list[str] = []
    stop = should_stop or (lambda: False)

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
        if scheduler:
            _run_dask(scheduler, todo(), options.as_dict(), record, stop, timeout)
        elif n_workers == 1 and timeout is None:
            _run_inline(todo(), options.as_dict(), record, stop)
        else:
            _run_pool(n_workers, todo(), options.as_dict(), record, stop, timeout)
    finally:
        # Every source is skipped, done or failed unless the run was stopped or broke off.
        interrupted = state.finished < len(sources)
        store.finish_run(
            run_id,
            done=state.done,
            skipped=state.skipped,
            failed=state.failed,
            interrupted=interrupted,
        )
    return BatchSummary(
        total=len(sources),
        done=state.done,
        skipped=state.skipped,
        failed=state.failed,
        seconds=time.perf_counter() - started,
        interrupted=interrupted,
        reasons=reasons,
    )


def _run_inline(
    todo: Iterator[str], options: Record, record: Callable[[Record], None], stop: Callable[[], bool]
) -> None:
    """Run in this process, one image at a time."""
    for source in todo:
        record(process(source, options))
        if stop():
            return


def _run_pool(
    workers: int,
    todo: Iterator[str],
    options: Record,
    record: Callable[[Record], None],
    stop: Callable[[], bool],
    timeout: float | None,
) -> None:
    """Run on a `WorkerPool`: an image past its deadline, or whose worker dies, fails alone.

    One task per worker is in flight (dispatch costs a fraction of a millisecond), so a
    stop starts nothing new and only the images already running are finished.
    """
    from concurrent.futures import FIRST_COMPLETED, wait

    pending: dict[Any, str] = {}
    with WorkerPool(workers) as pool:
        exhausted = False
        while True:
            while not exhausted and not stop() and len(pending) < workers:
                source = next(todo, None)
                if source is None:
                    exhausted = True
                    break
                pending[pool.submit(process, source, options, timeout, timeout=timeout)] = source
            if not pending:
                break
            finished, _ = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in finished:
                source = pending.pop(future)
                try:
                    result = future.result()
                except Exception as exc:  # noqa: BLE001 - deadline or dead worker: this image only
                    result = _failure_record(source, exc)
                record(result)


def _failure_record(source: str, exc: BaseException) -> Record:
    """The record of an image whose worker was stopped at the deadline or died."""
    size, mtime_ns = file_stamp(source)
    if isinstance(exc, ImageTimeoutError):
        error, reason = "ImageTimeoutError", f"{source}: {exc}"
    elif isinstance(exc, WorkerCrashedError):
        error = "WorkerCrash"
        reason = f"{source}: the worker process died while this image was in progress ({exc})"
    else:
        error, reason = type(exc).__name__, f"{source}: {_one_line(exc)}"
    return {
        "source": source,
        "ok": False,
        "size": size,
        "mtime_ns": mtime_ns,
        "error": error,
        "reason": reason,
    }


def _run_dask(
    scheduler: str,
    todo: Iterator[str],
    options: Record,
    record: Callable[[Record], None],
    stop: Callable[[], bool],
    timeout: float | None = None,
) -> None:
    """Run on a Dask cluster: workers open the images, results stream back to this writer.

    `timeout` bounds downloads only: a running Dask task cannot be stopped from outside.
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
            f"cannot reach the Dask scheduler at {scheduler} ({_one_line(exc)})"
        ) from exc
    try:
        n_workers = max(
            1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values())
        )
        window = n_workers * IN_FLIGHT_PER_WORKER
        futures = as_completed()
        sources: dict[Any, str] = {}  # future key -> source
        exhausted = False

        def submit() -> None:
            nonlocal exhausted
            source = next(todo, None)
            if source is None:
                exhausted = True
                return
            future = client.submit(process, source, options, timeout, pure=False)
            sources[future.key] = source
            futures.add(future)

        for _ in range(window):
            if stop() or exhausted:
                break
            submit()
        for future in futures:
            source = sources.pop(future.key)
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
                    "reason": f"{source}: dask task failed ({_one_line(exc)})",
                }
            record(result)
            if not stop() and not exhausted:
                submit()
    finally:
        client.close()
