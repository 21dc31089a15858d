"""The app's side of its worker processes: bounded waits, the per-image deadline, clear errors.

Fetching, decoding and clustering run in a `chromapal.workers.WorkerPool` (see
`chromapal.web.jobs`); the light work that follows (clean-up, drawing the ≤ 800-pixel
preview, writing a palette file) runs in a thread of the server. Either way a request
waits at most `Settings.worker_wait` seconds for its turn and is answered 503 past it,
and a worker call takes at most `Settings.timeout` seconds: past it the worker is killed
and replaced and the client gets a 422 naming the image.

A request whose client hung up while it waited for its turn is dropped without
starting its work; one that hangs up during the work holds its worker until the work
ends or the deadline kills it (`WorkerPool.run` cannot be interrupted).

One pool per process and worker count, shared by the apps of the process (tests build
many apps) and closed at exit; its workers also die with the process.
"""

from __future__ import annotations

import atexit
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from ..errors import ImageTimeoutError
from .settings import Settings

if TYPE_CHECKING:
    from ..workers import WorkerPool

T = TypeVar("T")

_POOLS: dict[int, WorkerPool] = {}
_POOLS_LOCK = threading.Lock()


def shared_pool(workers: int) -> WorkerPool:
    """The process's pool of `workers` worker processes (started on first use)."""
    with _POOLS_LOCK:
        pool = _POOLS.get(workers)
        if pool is None:
            from ..workers import WorkerPool

            if not _POOLS:
                atexit.register(close_pools)
            pool = _POOLS[workers] = WorkerPool(workers)
        return pool


def close_pools() -> None:
    """Kill every worker of every shared pool (at exit; a later call starts new pools)."""
    with _POOLS_LOCK:
        pools = list(_POOLS.values())
        _POOLS.clear()
    for pool in pools:
        pool.close()


class ServerBusyError(Exception):
    """No worker or thread became free in time: the client should try again shortly (503)."""


class ClientGoneError(Exception):
    """The client hung up before the work started; nothing is done and nobody is answered."""


class Work:
    """Runs an app's work with its limits: a bounded wait for a turn, a deadline per worker call.

    Parameters
    ----------
    settings : Settings
        Uses `workers`, `timeout` and `worker_wait`.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        #: Requests working at once (in a worker or in a thread); the rest wait their turn.
        self.turns = anyio.CapacityLimiter(settings.workers)

    @property
    def pool(self) -> WorkerPool:
        """The worker pool (shared by the apps of this process with the same worker count)."""
        return shared_pool(self.settings.workers)

    async def run(self, func: Callable[..., T], *args: Any, gone: Callable[[], Awaitable[bool]] | None = None) -> T:
        """Run the blocking ``func(*args)`` in a thread once it is this request's turn.

        Parameters
        ----------
        gone : async callable, optional
            Tells whether the client has hung up (``Request.is_disconnected``); asked when
            the turn comes, so that work nobody waits for any more is never started.

        Raises
        ------
        ServerBusyError
            No turn came within `Settings.worker_wait` seconds.
        ClientGoneError
            The client hung up while the request waited for its turn.
        """
        # asking also makes uvicorn read the socket again (it pauses reading during a large
        # body), so that a hang-up while this request waits is seen when its turn comes
        if gone is not None and await gone():
            raise ClientGoneError("the client hung up before its turn came")
        with anyio.move_on_after(self.settings.worker_wait) as waited:
            await self.turns.acquire()
        if waited.cancelled_caught:
            raise ServerBusyError(self._busy())
        try:
            if gone is not None and await gone():
                raise ClientGoneError("the client hung up before its turn came")
            return await anyio.to_thread.run_sync(func, *args)
        finally:
            self.turns.release()

    def call(self, name: str, doing: str, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run ``func(*args, **kwargs)`` in a worker process under the deadline (blocking).

        Parameters
        ----------
        name : str
            The image, for error messages.
        doing : str
            What the call does, for the timeout message (``"decode and cluster"``).

        Raises
        ------
        ImageTimeoutError
            The call took longer than `Settings.timeout`: ``"<name>: took longer than 30 s ..."``.
        ServerBusyError
            No worker became free within `Settings.worker_wait` seconds.
        WorkerCrashedError
            The worker died during the call (it is replaced).
        """
        from ..workers import WorkerCrashedError, WorkersBusyError

        try:
            return self.pool.run(
                func, *args, timeout=self.settings.timeout, wait=self.settings.worker_wait, **kwargs
            )
        except ImageTimeoutError:
            raise ImageTimeoutError(
                f"{name}: took longer than {self.settings.timeout:g} s to {doing} (the server's time limit per image)"
            ) from None
        except WorkersBusyError:
            raise ServerBusyError(self._busy()) from None
        except WorkerCrashedError as exc:
            raise WorkerCrashedError(f"{name}: {exc}") from None

    def _busy(self) -> str:
        return (f"the server is busy: no worker became free within {self.settings.worker_wait:g} s; "
                "try again in a few seconds")
