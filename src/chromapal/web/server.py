"""Run the web app with uvicorn under connection limits; `serve_in_thread` for tests and notebooks.

`server_options` is the one place the server's limits become uvicorn settings; both
``chromapal serve`` and `serve_in_thread` use it. What it bounds:

- **Request heads.** uvicorn's h11 protocol waits for a request line and headers for
  as long as the client likes (its keep-alive timer only runs between requests).
  `BoundedH11Protocol` gives every connection `Settings.header_timeout` seconds to send
  a complete head, on a new connection and between requests; past it the connection is
  closed (with a 408 when part of a head arrived). An unfinished head over 16 KiB
  (`MAX_HEAD`) is refused at once with a 400.
- **Open connections.** A request that arrives while `Settings.max_connections`
  connections are open (its own included) gets a JSON 503 and its connection is closed
  (uvicorn's ``limit_concurrency``, one above, is the backstop). Connections still
  waiting for their first request are at most half as many: a new connection closes the
  one that has waited longest, so idle sockets cannot crowd out a real client.
- **Bodies and answers** are bounded by `chromapal.web.limits.Guard`, in the app.
"""

from __future__ import annotations

import functools
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import h11
import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

from .limits import error_response
from .settings import Settings

#: Pending connections the kernel queues before the server accepts them.
BACKLOG = 256
#: Bytes of an unfinished request head the server buffers (h11's default, made explicit).
MAX_HEAD = 16 * 1024


class _Waiting:
    """Connections of one server that wait for a request head, oldest first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.protocols: OrderedDict[BoundedH11Protocol, None] = OrderedDict()


class BoundedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for every request head and a cap on waiting connections.

    Parameters
    ----------
    header_timeout : float
        Seconds a connection has to send a complete request head.
    waiting : _Waiting
        The server's register of connections waiting for a head (shared by all of them).
    **kwargs
        As for `uvicorn.protocols.http.h11_impl.H11Protocol`.
    """

    def __init__(self, *args: Any, header_timeout: float, waiting: _Waiting, max_connections: int,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timeout = header_timeout
        self._waiting = waiting
        self._max_connections = max_connections
        self._head_timer: Any = None
        self._head_bytes = 0
        self._app = self.app
        self.app = self._within_limit  # what uvicorn runs for each request of this connection

    async def _within_limit(self, scope: Any, receive: Any, send: Any) -> None:
        """Run the app, or answer 503 while `max_connections` connections are open (this one included)."""
        if scope["type"] == "http" and (
            len(self.connections) >= self._max_connections or len(self.tasks) > self._max_connections
        ):
            message = (f"the server has {len(self.connections)} connections open, its limit is "
                       f"{self._max_connections}; try again in a few seconds")
            await error_response(503, message, {"Connection": "close", "Retry-After": "5"})(scope, receive, send)
            return
        await self._app(scope, receive, send)

    def connection_made(self, transport: Any) -> None:  # noqa: D102 - asyncio's protocol interface
        super().connection_made(transport)
        while len(self._waiting.protocols) >= self._waiting.limit:
            oldest = next(iter(self._waiting.protocols))
            oldest._hang_up(timed_out=False)
        self._update()

    def data_received(self, data: bytes) -> None:  # noqa: D102
        if self._head_timer is not None:
            self._head_bytes += len(data)
        super().data_received(data)
        self._update()

    def on_response_complete(self) -> None:  # noqa: D102
        super().on_response_complete()
        self._update()

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: D102
        self._stop_waiting()
        super().connection_lost(exc)

    def _update(self) -> None:
        """Start the head deadline when the connection waits for a request, stop it when one came."""
        if self.transport is None or self.transport.is_closing():
            self._stop_waiting()
        elif self.cycle is not None and not self.cycle.response_complete:
            self._stop_waiting()  # a request is being answered: the app's own limits apply
        elif self._head_timer is None:  # waiting; an earlier deadline is never pushed back
            self._head_bytes = 0
            self._head_timer = self.loop.call_later(self._header_timeout, self._hang_up)
            self._waiting.protocols[self] = None

    def _stop_waiting(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._waiting.protocols.pop(self, None)

    def _hang_up(self, *, timed_out: bool = True) -> None:
        """Close a connection that sent no complete head in time (or was pushed out by a newer one)."""
        self._stop_waiting()
        if self.transport.is_closing():
            return
        if timed_out and self._head_bytes and self.conn.our_state is h11.IDLE:
            body = (b'{"error": "the request line and headers did not arrive within %g s"}'
                    % self._header_timeout)
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(body), body)
            )
        if self.transport.get_write_buffer_size():
            self.transport.abort()  # a client that does not read cannot keep the socket open
        else:
            self.transport.close()


def server_options(settings: Settings) -> dict[str, Any]:
    """The keyword arguments of ``uvicorn.Config`` that enforce `settings`' connection limits."""
    waiting = _Waiting(max(1, settings.max_connections // 2))
    return {
        "http": functools.partial(BoundedH11Protocol, header_timeout=settings.header_timeout, waiting=waiting,
                                  max_connections=settings.max_connections),
        # uvicorn's own check answers in plain text: BoundedH11Protocol answers first, in JSON;
        # this one stays as a backstop for anything the protocol does not see
        "limit_concurrency": settings.max_connections + 1,
        "h11_max_incomplete_event_size": MAX_HEAD,
        "timeout_keep_alive": settings.keep_alive,
        "backlog": BACKLOG,
        "ws": "none",
        "lifespan": "off",
        "log_level": "warning",
    }


def app_settings(app: FastAPI) -> Settings:
    """The `Settings` an app was built with (the defaults for a foreign app)."""
    settings = getattr(app.state, "settings", None)
    return settings if isinstance(settings, Settings) else Settings()


@contextmanager
def serve_in_thread(app: FastAPI, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve `app` on `host`:`port` (0: a free port) while the block runs; yield its base URL.

    The server has the connection limits of the app's `Settings` (see `server_options`).
    It is stopped and its thread joined on exit.
    """
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, **server_options(app_settings(app))))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the web server did not start")
        time.sleep(0.01)
    try:
        shown = f"[{host}]" if ":" in host else host
        yield f"http://{shown}:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
