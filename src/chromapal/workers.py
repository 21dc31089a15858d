"""Run work in child processes under a deadline: the one place a per-image time limit is enforced.

A thread cannot be stopped in the middle of a C decoder, a process can. `WorkerPool` keeps
worker processes (started by a fork server, so it is safe in threaded programs such as
the web app) and kills and replaces one that runs past its deadline; `run_with_deadline`
forks one child for one call, for the single-threaded command line and
``chromapal.extract(timeout=...)``.

Either way:

- past the deadline the child is killed with SIGKILL and `ImageTimeoutError`
  ("took longer than N s") is raised;
- the child's exception is raised again in the parent, with its type and message;
- a child that dies (segfault, out-of-memory kill) gives `WorkerCrashedError`;
- children die with their parent, even after ``kill -9`` of it: ``PR_SET_PDEATHSIG`` on
  Linux, plus a watchdog thread (pool workers: end of file on a "lifeline" pipe whose
  only writer is the pool's process; forked children: being re-parented). Pool workers
  also drop the fork server's liveness pipe, so the fork server exits with the pool's
  process and takes its workers along. Children ignore SIGINT (the parent handles
  Ctrl-C) and run with decoder warnings, logging and file descriptor 2 silenced.

Functions and arguments sent to a `WorkerPool` must be picklable (module-level functions);
`run_with_deadline` forks, so only its result (or exception) is pickled.
"""

from __future__ import annotations

import contextlib
import gc
import io
import os
import pickle
import select
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

from ._child import RemoteError, become_worker, outcome, worker_main
from .errors import ImageTimeoutError, PaletteError

__all__ = [
    "RemoteError",
    "WorkerCrashedError",
    "WorkerPool",
    "WorkersBusyError",
    "extract_within",
    "fetch_within",
    "run_with_deadline",
]

#: Modules a pool's fork server imports once, so a replacement worker starts in milliseconds.
PRELOAD: Final = ("chromapal.pipeline", "chromapal.batch")


class WorkerCrashedError(PaletteError, RuntimeError):
    """The worker process died (a crash or a kill) before it returned a result."""


class WorkersBusyError(PaletteError, RuntimeError):
    """No worker became free within the time the caller was willing to wait."""


# -- in the parent ---------------------------------------------------------------------------


def _unpickle(payload: bytes) -> Any:
    """Return the value of a pickled outcome, or raise its exception."""
    try:
        kind, value = pickle.loads(payload)  # noqa: S301 - written by our own child
    except Exception as exc:  # noqa: BLE001 - e.g. an exception class that cannot be rebuilt
        raise RemoteError(f"the worker's answer could not be read ({type(exc).__name__}: {exc})") from None
    if kind == "ok":
        return value
    raise value


def _timeout_error(timeout: float) -> ImageTimeoutError:
    return ImageTimeoutError(f"took longer than {timeout:g} s")


def _death(status: int | None) -> str:
    """Word how a child ended: by which signal, or with which exit code."""
    if status is None:
        return "died"
    if status < 0:
        try:
            return f"was killed by {signal.Signals(-status).name}"
        except ValueError:
            return f"was killed by signal {-status}"
    return f"exited with status {status}"


class _Worker:
    """One pool process and the parent's end of its pipe."""

    def __init__(self, context: Any, lifeline: Any, initializer: Callable[[], Any] | None) -> None:
        parent_end, child_end = context.Pipe()
        self.conn = parent_end
        self.process = context.Process(
            target=worker_main,
            args=(child_end, lifeline, initializer),
            daemon=True,
            name="chromapal-worker",
        )
        self.process.start()
        child_end.close()

    def call(self, func: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any],
             timeout: float | None) -> tuple[str, Any]:
        """Send one call; return ``("done", payload)``, ``("timeout", None)`` or ``("dead", None)``."""
        try:
            self.conn.send((func, args, dict(kwargs)))
            if not self.conn.poll(timeout):
                return "timeout", None
            return "done", self.conn.recv_bytes()
        except (EOFError, OSError):
            return "dead", None

    def kill(self) -> int | None:
        """SIGKILL the process, reap it and close the pipe; return its exit code."""
        with contextlib.suppress(OSError, ValueError):
            self.process.kill()
        self.process.join(5)
        with contextlib.suppress(OSError):
            self.conn.close()
        return self.process.exitcode


class WorkerPool:
    """Worker processes that run callables under a deadline; a worker past its deadline is killed and replaced.

    Workers are started when first needed, by a ``forkserver`` that has already imported
    chromapal, numpy and Pillow, so replacing a killed worker costs milliseconds. The pool
    is thread-safe; use it as a context manager or call `close`. As with any
    ``multiprocessing`` start method but fork, a new worker imports the program's main
    module: a script that starts a pool must guard its entry point with
    ``if __name__ == "__main__":`` (the ``chromapal`` command and ``python -m chromapal`` do).

    Parameters
    ----------
    workers : int
        Processes at most (each runs one call at a time).
    initializer : callable, optional
        Called once in each new worker (module-level, picklable).
    """

    def __init__(self, workers: int = 1, *, initializer: Callable[[], Any] | None = None) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1 (got {workers})")
        import multiprocessing

        self.workers = workers
        self._initializer = initializer
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(list(PRELOAD))
        # Workers read the one end; only this process holds the other (see `_watch_lifeline`).
        self._lifeline, self._lifeline_writer = self._context.Pipe(duplex=False)
        self._free = threading.Condition()
        self._idle: list[_Worker] = []
        self._all: set[_Worker] = set()
        self._started = 0  # workers alive or being started
        self._closed = False
        self._executor: Any = None

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _acquire(self, wait: float | None) -> _Worker:
        """Take an idle worker, start one if there is room, or wait up to `wait` seconds."""
        deadline = None if wait is None else time.monotonic() + wait
        with self._free:
            while True:
                if self._closed:
                    raise WorkerCrashedError("the worker pool is closed")
                if self._idle:
                    return self._idle.pop()
                if self._started < self.workers:
                    self._started += 1
                    break
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise WorkersBusyError(
                        f"all {self.workers} workers are busy (waited {wait:g} s)"
                    )
                self._free.wait(left)
        try:
            worker = _Worker(self._context, self._lifeline, self._initializer)
        except BaseException:
            with self._free:
                self._started -= 1
                self._free.notify()
            raise
        with self._free:
            self._all.add(worker)
        return worker

    def _release(self, worker: _Worker, *, alive: bool) -> int | None:
        """Give a worker back, or kill it and free its place; return a dead worker's exit code."""
        status = None
        if not alive:
            status = worker.kill()
        with self._free:
            if alive and not self._closed:
                self._idle.append(worker)
            else:
                self._all.discard(worker)
                self._started -= 1
            self._free.notify()
        if alive and self._closed:
            worker.kill()
        return status

    def run(self, func: Callable[..., Any], /, *args: Any, timeout: float | None,
            wait: float | None = None, **kwargs: Any) -> Any:
        """Run ``func(*args, **kwargs)`` in an idle worker and return its result (blocking).

        Parameters
        ----------
        func : callable
            A module-level function; it and the arguments must be picklable.
        timeout : float or None
            Seconds the call may take; None for no limit.
        wait : float, optional
            Seconds to wait for an idle worker (default: as long as it takes).

        Raises
        ------
        ImageTimeoutError
            The call took longer than `timeout`: its worker was killed and will be replaced.
        WorkersBusyError
            No worker became free within `wait` seconds.
        WorkerCrashedError
            The worker died during the call (it is replaced), or the pool was closed.
        Exception
            Whatever `func` raised, with its type and message.
        """
        worker = self._acquire(wait)
        state, payload = "dead", None
        try:
            state, payload = worker.call(func, args, kwargs, timeout)
        finally:
            status = self._release(worker, alive=state == "done")
        if state == "timeout":
            raise _timeout_error(timeout or 0.0)
        if state == "dead":
            if self._closed:
                raise WorkerCrashedError("the worker pool was closed during the call")
            raise WorkerCrashedError(f"the worker process {_death(status)} during the call")
        return _unpickle(payload)

    def submit(self, func: Callable[..., Any], /, *args: Any, timeout: float | None,
               **kwargs: Any) -> Any:
        """Like `run`, without blocking: return a ``concurrent.futures.Future`` of the result."""
        if self._executor is None:
            from concurrent.futures import ThreadPoolExecutor

            with self._free:
                if self._executor is None:
                    self._executor = ThreadPoolExecutor(self.workers, "chromapal-pool")
        return self._executor.submit(self.run, func, *args, timeout=timeout, **kwargs)

    def close(self) -> None:
        """Kill every worker, idle or busy; calls still waiting fail with `WorkerCrashedError`."""
        with self._free:
            self._closed = True
            workers = list(self._all)
            self._idle.clear()
            self._free.notify_all()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        for worker in workers:
            worker.kill()
        self._lifeline.close()
        self._lifeline_writer.close()


# -- one call in a forked child ----------------------------------------------------------------


def run_with_deadline(func: Callable[..., Any], /, *args: Any, timeout: float, **kwargs: Any) -> Any:
    """Run ``func(*args, **kwargs)`` in a forked child and return its result.

    For single-threaded callers (the command line, scripts): forking a threaded program
    is unsafe, so servers use `WorkerPool`. Only the result or exception is pickled; the
    arguments are the parent's own objects, inherited by the fork.

    Raises
    ------
    ImageTimeoutError
        The call took longer than `timeout` seconds; the child was killed.
    WorkerCrashedError
        The child died before it sent its result.
    Exception
        Whatever `func` raised, with its type and message.
    """
    if not hasattr(os, "fork"):  # pragma: no cover - Windows: no way to stop the call
        return func(*args, **kwargs)
    read_end, write_end = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    gc.freeze()  # the child's collections then leave the parent's objects (and pages) alone
    pid = os.fork()
    gc.unfreeze()
    if pid == 0:  # the child: never return into the caller's code
        try:
            os.close(read_end)
            become_worker()
            payload = outcome(func, args, kwargs)
            with io.FileIO(write_end, "w", closefd=False) as out:
                view = memoryview(payload)
                while view:
                    view = view[out.write(view) :]
        finally:
            os._exit(0)
    os.close(write_end)
    payload, finished = b"", False
    try:
        payload, finished = _read_until(read_end, time.monotonic() + timeout)
    finally:  # also on Ctrl-C in the parent: no child outlives the call
        os.close(read_end)
        if not finished:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if not finished:
        raise _timeout_error(timeout)
    if not payload:
        raise WorkerCrashedError(f"the child process {_death(status)} during the call")
    return _unpickle(payload)


def _read_until(fd: int, deadline: float) -> tuple[bytes, bool]:
    """Read `fd` to end of file; return (bytes, True), or (bytes so far, False) at the deadline."""
    chunks: list[bytes] = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return b"".join(chunks), True
        chunks.append(chunk)


# -- extraction under a deadline ---------------------------------------------------------------


def fetch_within(source: Any, deadline: float) -> Any:
    """Download `source` if it is a URL, within what is left until `deadline` (a monotonic time).

    Returns the bytes as a binary stream named after the URL (so messages and palettes
    still name it), or `source` unchanged when it is not a URL.

    Raises
    ------
    ImageTimeoutError
        If no time is left.
    SourceError
        If the download fails or does not finish in time.
    """
    from .load import is_url

    if not is_url(source):
        return source
    from . import fetch

    left = deadline - time.monotonic()
    if left <= 0:
        raise ImageTimeoutError("no time left to download the image")
    # The fetch module's own limit still holds; the image's deadline can only shorten it.
    data = io.BytesIO(fetch.fetch_url(source, timeout=min(left, fetch.URL_TIMEOUT)))
    data.name = source  # type: ignore[attr-defined]
    return data


def _extract_in_child(source: Any, timeout: float, options: Mapping[str, Any]) -> Any:
    from .pipeline import extract

    source = fetch_within(source, time.monotonic() + timeout)
    return extract(source, **options)


def extract_within(source: Any, timeout: float, **options: Any) -> Any:
    """``chromapal.extract(source, **options)`` in a forked child killed after `timeout` seconds.

    The deadline covers fetching a URL, decoding and clustering.

    Raises
    ------
    ImageTimeoutError
        ``"<source>: took longer than N s"``.
    ValueError
        If `timeout` is not a positive, finite number.
    """
    import math

    from .load import describe

    if not (isinstance(timeout, (int, float)) and math.isfinite(timeout) and timeout > 0):
        raise ValueError(f"timeout must be a positive number of seconds (got {timeout!r})")
    try:
        return run_with_deadline(_extract_in_child, source, timeout, options, timeout=timeout)
    except ImageTimeoutError as exc:
        raise ImageTimeoutError(f"{describe(source)}: {exc}") from None
    except WorkerCrashedError as exc:
        raise WorkerCrashedError(f"{describe(source)}: {exc}") from None
