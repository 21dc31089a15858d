"""The app's outer ASGI layer: who may ask, how big and how slow a request may be, JSON 500s.

`Guard` wraps the whole app. Before the app sees a request it checks the Host and
Origin headers (DNS rebinding, other web sites posting from the user's browser) and a
declared Content-Length. While the app reads the body it enforces the size limit
(for chunked bodies too), the time allowed between two pieces of the body and the
time for the whole body: past either time the client gets a 408 and the connection is
closed. Sending the answer has a deadline too, so a client that never reads cannot
hold the request. Stray exceptions become a JSON 500 and one log line.

The request head (line and headers) is bounded by the server's protocol, see
`chromapal.web.server`.
"""

from __future__ import annotations

import logging
import time

import anyio
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .settings import FORM_SLACK

log = logging.getLogger("chromapal.web")

_CLOSE = {"Connection": "close"}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The app's error answer: ``{"error": message}`` with `status`."""
    return JSONResponse({"error": message}, status_code=status, headers=headers)


class ClientTooSlowError(Exception):
    """The client did not read the answer in time; the connection is dropped."""


class Guard:
    """Outer ASGI layer: Host and Origin checks, body size and time limits, JSON 500s without tracebacks.

    Parameters
    ----------
    app : ASGI app
        The app to guard.
    max_body : int
        Largest request body, in bytes (413 beyond it).
    allowed_hosts : tuple of str
        Host names accepted in the Host and Origin headers; empty accepts any.
    body_idle_timeout, body_timeout : float
        Seconds between two pieces of the body, and for the whole body (408 past either).
    send_timeout : float
        Seconds for sending the answer (the connection is dropped past it).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body: int,
        allowed_hosts: tuple[str, ...],
        body_idle_timeout: float = 10.0,
        body_timeout: float = 120.0,
        send_timeout: float = 30.0,
    ) -> None:
        self.app = app
        self.max_body = max_body
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.body_idle_timeout = body_idle_timeout
        self.body_timeout = body_timeout
        self.send_timeout = send_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse foreign hosts, oversized and slow bodies; turn stray exceptions into a JSON 500."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(Headers(scope=scope))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        body_deadline = time.monotonic() + self.body_timeout
        body_done = False
        started = False
        received = 0

        async def limited() -> Message:
            nonlocal received, body_done
            if body_done:  # the app asks again (e.g. for a disconnect): no body limit applies
                return await receive()
            left = body_deadline - time.monotonic()
            idle = min(self.body_idle_timeout, left)
            message = None
            with anyio.move_on_after(max(idle, 0)):
                message = await receive()
            if message is None:
                raise HTTPException(408, self._too_slow(received, idle < self.body_idle_timeout), _CLOSE)
            received += len(message.get("body", b""))
            if received > self.max_body:  # no Content-Length (chunked): stop reading here
                # Connection: close makes the server hang up instead of draining the rest
                raise HTTPException(413, self._too_large(received, more=True), _CLOSE)
            body_done = message["type"] != "http.request" or not message.get("more_body", False)
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            with anyio.move_on_after(self.send_timeout) as waited:
                await send(message)
            if waited.cancelled_caught:
                raise ClientTooSlowError(f"the client did not read the answer within {self.send_timeout:g} s")

        try:
            await self.app(scope, limited, tracked)
        except ClientTooSlowError as exc:
            # returning mid-answer makes the server close the connection
            log.warning("%s %s: %s; connection dropped", scope.get("method"), scope.get("path"), exc)
        except Exception as exc:  # noqa: BLE001 - last resort: a log line, JSON for the client
            log.error("500 on %s %s: %s: %s", scope.get("method"), scope.get("path"), type(exc).__name__, exc)
            log.debug("traceback", exc_info=exc)
            if not started:
                await error_response(500, "internal error; the server log has details")(scope, receive, send)

    def _refusal(self, headers: Headers) -> JSONResponse | None:
        """The answer to a request refused from its headers alone, or None."""
        host = host_name(headers.get("host", ""))
        if self.allowed_hosts and host not in self.allowed_hosts:
            message = f"unexpected Host header {host!r}; open the app at its 127.0.0.1 address"
            return error_response(400, message)
        origin = headers.get("origin")
        if self.allowed_hosts and origin and host_name(origin.split("://", 1)[-1]) not in self.allowed_hosts:
            # another web site's page posting to this app from the user's browser
            return error_response(403, "requests from other web sites are refused")
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            return error_response(413, self._too_large(int(length)), _CLOSE)
        return None

    def _too_large(self, size: int, *, more: bool = False) -> str:
        limit = self.max_body - FORM_SLACK
        return f"upload of {'over ' if more else ''}{size:,} bytes is over the {limit:,}-byte limit"

    def _too_slow(self, received: int, whole: bool) -> str:
        if whole:
            return (f"the request body did not arrive within {self.body_timeout:g} s "
                    f"({received:,} bytes received); send it faster or make it smaller")
        return (f"the request body stalled: nothing received for {self.body_idle_timeout:g} s "
                f"({received:,} bytes received)")


def host_name(value: str) -> str:
    """``'127.0.0.1:8000'`` -> ``'127.0.0.1'``, ``'[::1]:8000'`` -> ``'::1'``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value
