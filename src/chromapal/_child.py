"""What runs in a worker process or deadline child before and around the call.

`become_worker` makes a child die with its parent, ignore Ctrl-C and keep decoders
quiet; `outcome` runs a call and pickles its result or exception; `worker_main` is a
pool worker's loop. Used by `chromapal.workers`; nothing here runs in the parent.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

#: Seconds between the watchdog's checks that the parent is still alive.
WATCHDOG_EVERY: Final = 0.5
_PR_SET_PDEATHSIG: Final = 1


class RemoteError(RuntimeError):
    """Stands for an exception raised in a worker that could not be sent back as itself."""


def become_worker(lifeline: Any = None) -> None:
    """Set up a child: die with the parent, ignore Ctrl-C, silence decoders.

    Called first thing in every worker and deadline child. `lifeline` is the read end of
    a pipe only the pool's process writes to: its end of file means that process is gone.
    """
    parent = os.getppid()
    _die_with_parent()
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _silence_decoders()
    if lifeline is not None:
        _drop_forkserver_liveness()
        threading.Thread(target=_watch_lifeline, args=(lifeline,), daemon=True).start()
    else:
        threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _drop_forkserver_liveness() -> None:
    """Close this worker's copy of the fork server's liveness pipe.

    Every process a fork server starts inherits the write end of the pipe whose end of
    file tells the fork server its owner is gone; while a worker holds it, a killed
    owner leaves the fork server, and so the workers it parents, alive for good.
    """
    try:
        from multiprocessing import forkserver

        server = forkserver._forkserver  # type: ignore[attr-defined]
        fd = server._forkserver_alive_fd
        if fd is not None:
            os.close(fd)
            server._forkserver_alive_fd = None
    except (ImportError, AttributeError, OSError):  # pragma: no cover - other Pythons
        pass


def _watch_lifeline(lifeline: Any) -> None:
    """Exit when the pool's process is gone (end of file on the lifeline); a daemon thread."""
    try:
        while True:
            lifeline.recv_bytes()
    except (EOFError, OSError):
        os._exit(1)


def _die_with_parent() -> None:
    """Ask Linux to SIGKILL this process when its parent dies (no-op elsewhere)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl: the watchdog still works
        pass


def _watch_parent(parent: int) -> None:
    """Exit as soon as this process is re-parented (its parent died); runs in a daemon thread."""
    while True:
        time.sleep(WATCHDOG_EVERY)
        if os.getppid() != parent:
            os._exit(1)


def _silence_decoders() -> None:
    """No decoder warning, log record, libtiff message or crash dump reaches the user from a child."""
    import faulthandler
    import logging
    import warnings

    if faulthandler.is_enabled():  # a crash is reported by the parent, in one line
        faulthandler.disable()
    warnings.simplefilter("ignore")
    logging.disable(logging.CRITICAL)
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:  # pragma: no cover - no fd 2 to redirect
        pass


def outcome(func: Callable[..., Any], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> bytes:
    """Run the call and return its pickled outcome: ``("ok", value)`` or ``("err", exception)``."""
    try:
        result: tuple[str, Any] = ("ok", func(*args, **kwargs))
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        result = ("err", exc)
    try:
        payload = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        if result[0] == "err":
            pickle.loads(payload)  # noqa: S301 - some exception classes pickle but cannot be rebuilt
        return payload
    except Exception as exc:  # noqa: BLE001 - an unpicklable result or exception
        what = result[1] if result[0] == "err" else exc
        return pickle.dumps(("err", RemoteError(f"{type(what).__name__}: {what}")))


def worker_main(conn: Any, lifeline: Any, initializer: Callable[[], Any] | None) -> None:
    """A pool worker's loop: receive ``(func, args, kwargs)``, send back the pickled outcome."""
    become_worker(lifeline)
    if initializer is not None:
        initializer()
    while True:
        try:
            func, args, kwargs = conn.recv()
        except (EOFError, OSError):  # the pool closed its end
            return
        conn.send_bytes(outcome(func, args, kwargs))
