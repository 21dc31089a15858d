"""The per-host limit of a batch: at most so many downloads from one host at a time.

The runner asks `HostGate.take` for each source it starts and calls `HostGate.finished`
when the source's task is over, so the limit holds across worker processes (and Dask
workers): it is kept where the work is handed out.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .sources import host_of


class HostGate:
    """Hands out sources so that at most `per_host` downloads from one host are in flight.

    A source whose host is full waits (in order) while the sources behind it go ahead;
    files have no host and are never held back.
    """

    def __init__(
        self, todo: Iterator[str], per_host: int, canvases: Mapping[str, Mapping[str, Any]]
    ) -> None:
        if per_host < 1:
            raise ValueError(f"per_host must be at least 1 (got {per_host})")
        self.todo = todo
        self.per_host = per_host
        self.canvases = canvases
        self.waiting: list[tuple[str, str | None]] = []
        self.busy: dict[str | None, int] = {}
        self.todo_done = False

    @property
    def exhausted(self) -> bool:
        """True once every source has been handed out."""
        return self.todo_done and not self.waiting

    def _free(self, host: str | None) -> bool:
        return host is None or self.busy.get(host, 0) < self.per_host

    def take(self) -> str | None:
        """The next source that may start now, or None (none left, or every host is full)."""
        for i, (source, host) in enumerate(self.waiting):
            if self._free(host):
                del self.waiting[i]
                return self._start(source, host)
        while not self.todo_done:
            source = next(self.todo, None)
            if source is None:
                self.todo_done = True
                break
            host = host_of(source, self.canvases.get(source))
            if self._free(host):
                return self._start(source, host)
            self.waiting.append((source, host))
            if len(self.waiting) >= 10_000:  # a long run of one host: wait for a slot
                break
        return None

    def _start(self, source: str, host: str | None) -> str:
        self.busy[host] = self.busy.get(host, 0) + 1
        return source

    def finished(self, source: str) -> None:
        """Free the slot of a source whose task is over."""
        host = host_of(source, self.canvases.get(source))
        self.busy[host] = max(0, self.busy.get(host, 0) - 1)
