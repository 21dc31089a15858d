"""The local web app: a page and a JSON API over the palette pipeline (FastAPI).

Routes: ``GET /`` the page, ``POST /api/palette`` the palette as ``chromapal --json``
prints it, ``POST /api/recolor`` the flattened preview as PNG, ``GET|POST
/api/export/{format}`` palette files and swatch images, ``DELETE /api/session/{token}``,
``GET /openapi.json`` and ``GET /docs`` (an offline reference built from the schema).

Every error is JSON ``{"error": "..."}``: 4xx for what the user can fix, 500 plus a
log line (no traceback to the client) for bugs. Uploads are read into memory under a
size limit enforced while the body streams in; uploaded files are never written
outside the temporary directory the multipart parser spools to, and are closed
when the response is sent. See `chromapal.web.sessions` for what the page keeps.
"""

from __future__ import annotations

import io
import json
import logging
import re
from dataclasses import dataclass
from importlib.resources import files
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Any, Final, Literal

import anyio
import numpy as np
from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .. import __version__
from .._types import UInt8Array
from ..adjust import SORT_KEYS, clean_palette
from ..colorspace import SPACES
from ..errors import (
    EmptyImageError,
    ImageTooLargeError,
    PaletteError,
    SourceError,
    UnreadableImageError,
)
from ..export import FORMATS, dump_palette
from ..export.data import palette_dict
from ..load import DRAFT_ABOVE, load_image
from ..names import NAME_LISTS
from ..palette import Palette, dumps_palettes
from ..pipeline import MAX_K, palette_from_counts
from ..render.recolor import recolor_pixels
from ..sample import color_counts
from .fetch import FETCH_MAX_BYTES, FETCH_TIMEOUT, AddressPolicy, blocked_reason, fetch_image_bytes
from .sessions import MAX_SESSIONS, SESSION_TTL, Entry, SessionStore

log = logging.getLogger("chromapal.web")

#: Largest accepted upload (the file itself); the request body may be `_FORM_SLACK` larger.
MAX_UPLOAD_BYTES: Final = 50 * 1024 * 1024
#: Pixel limit for uploads (decompression-bomb guard), below Pillow's own.
MAX_PIXELS: Final = 50_000_000
#: Longest side of the recoloured preview.
PREVIEW_SIDE: Final = 800
#: Decodes and clusterings running at once: bounds CPU and memory under load.
WORKERS: Final = 4
_FORM_SLACK: Final = 64 * 1024
#: Swatch pictures offered next to the palette file formats.
SWATCHES: Final = {"swatch.png": "image/png", "swatch.svg": "image/svg+xml"}
_MEDIA: Final = {"json": "application/json", "csv": "text/csv; charset=utf-8", "svg": "image/svg+xml"}
_WEB: Final = files("chromapal.web")
#: Button labels on the page (the full description is the tooltip).
_SHORT: Final = {
    "txt": "Hex list", "tailwind": "Tailwind", "gpl": "GIMP", "ase": "Adobe ASE", "paintnet": "Paint.NET",
    "kpl": "Krita", "procreate": "Procreate", "svg": "SVG squares", "swatch.png": "Swatch PNG",
    "swatch.svg": "Swatch SVG",
}

Space = Literal["oklab", "cielab", "srgb"]
Sort = Literal["share", "lightness", "hue", "chroma"]
Names = Literal["css", "xkcd"]
if TYPE_CHECKING:
    ExportFormat = str
else:  # built from the registry: every palette file format and the two swatch pictures
    ExportFormat = Literal[tuple([*FORMATS, *SWATCHES])]


@dataclass(frozen=True)
class Settings:
    """Limits and switches of one app; `chromapal serve` maps its options onto these."""

    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_pixels: int = MAX_PIXELS
    allow_urls: bool = False
    sessions: bool = True
    session_ttl: float = SESSION_TTL
    max_sessions: int = MAX_SESSIONS
    preview_side: int = PREVIEW_SIDE
    fetch_timeout: float = FETCH_TIMEOUT
    fetch_max_bytes: int = FETCH_MAX_BYTES
    url_policy: AddressPolicy = blocked_reason
    #: Host header values accepted (guards against DNS rebinding); empty accepts any.
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")


# -- errors ---------------------------------------------------------------------------------


def error_status(exc: PaletteError) -> int:
    """HTTP status for a user error: 413 too large, 415 not an image, 422 nothing to cluster."""
    if isinstance(exc, ImageTooLargeError):
        return 413
    if isinstance(exc, EmptyImageError):
        return 422
    if isinstance(exc, UnreadableImageError) and not isinstance(exc, SourceError):
        return 415
    return 400


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    """First problem of a validation error as one line: ``k: Input should be ...``."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        problems.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg")))
    return "; ".join(problems) or "invalid request"


class Guard:
    """Outer ASGI layer: Host and Origin checks, body limit while streaming, JSON 500s without tracebacks."""

    def __init__(self, app: ASGIApp, *, max_body: int, allowed_hosts: tuple[str, ...]) -> None:
        self.app = app
        self.max_body = max_body
        self.allowed_hosts = {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse foreign hosts and oversized bodies; turn stray exceptions into a JSON 500."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = _host_name(headers.get("host", ""))
        if self.allowed_hosts and host not in self.allowed_hosts:
            message = f"unexpected Host header {host!r}; open the app at its 127.0.0.1 address"
            await _error(400, message)(scope, receive, send)
            return
        origin = headers.get("origin")
        if self.allowed_hosts and origin and _host_name(origin.split("://", 1)[-1]) not in self.allowed_hosts:
            # another web site's page posting to this app from the user's browser
            await _error(403, "requests from other web sites are refused")(scope, receive, send)
            return
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_body:
            await _error(413, self._too_large(int(length)), {"Connection": "close"})(scope, receive, send)
            return
        started = False
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_body:  # no Content-Length (chunked): stop reading here
                # Connection: close makes the server hang up instead of draining the rest
                raise HTTPException(413, self._too_large(received, more=True), {"Connection": "close"})
            return message

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited, tracked)
        except Exception as exc:  # noqa: BLE001 - last resort: a log line, JSON for the client
            log.error("500 on %s %s: %s: %s", scope.get("method"), scope.get("path"), type(exc).__name__, exc)
            log.debug("traceback", exc_info=exc)
            if not started:
                await _error(500, "internal error; the server log has details")(scope, receive, send)

    def _too_large(self, size: int, *, more: bool = False) -> str:
        limit = self.max_body - _FORM_SLACK
        return (
            f"upload of {'over ' if more else ''}{size:,} bytes is over the {limit:,}-byte limit"
        )


def _host_name(value: str) -> str:
    """``'127.0.0.1:8000'`` -> ``'127.0.0.1'``, ``'[::1]:8000'`` -> ``'::1'``."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


# -- the work -------------------------------------------------------------------------------


def upload_name(filename: str | None) -> str:
    """Return a printable base name for an upload (never used as a path)."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable())[:120]
    return name or "upload"


def decode_entry(data: bytes, name: str, settings: Settings) -> Entry:
    """Decode an uploaded image once: its colour histogram and a small upright preview."""
    stream = io.BytesIO(data)
    stream.name = name  # type: ignore[attr-defined]  # names the upload in error messages
    # upright: the preview must match what the browser shows; the histogram does not change
    loaded = load_image(stream, max_pixels=settings.max_pixels, draft_above=DRAFT_ABOVE, upright=True)
    counts = color_counts(loaded.pixels)
    return Entry(name=name, counts=counts, preview=preview_pixels(loaded.pixels, settings.preview_side))


def preview_pixels(pixels: UInt8Array, side: int) -> UInt8Array:
    """`pixels` scaled down so the longer side is at most `side` (a copy either way)."""
    h, w = pixels.shape[:2]
    if max(h, w) <= side:
        return pixels.copy()
    scale = side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    image = Image.fromarray(pixels).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(image).copy()


@dataclass(frozen=True)
class Options:
    """Clustering and clean-up options shared by every endpoint."""

    k: int
    space: str
    seed: int
    sort: str
    merge: float | None
    min_share: float

    @property
    def key(self) -> tuple[object, ...]:
        """Cache key of the raw palette (clean-up is cheap and not cached)."""
        return (self.k, self.space, self.seed)


def palette_for(entry: Entry, options: Options, store: SessionStore | None) -> Palette:
    """Return the cleaned palette of `entry`, reusing an earlier clustering when there is one."""
    with entry.busy:
        raw = store.palette(entry, options.key) if store is not None else None
        if raw is None:
            raw = palette_from_counts(
                entry.counts, k=options.k, space=options.space, seed=options.seed, source=entry.name
            )
            if store is not None:
                store.remember(entry, options.key, raw)
    return clean_palette(raw, merge=options.merge, min_share=options.min_share, sort=options.sort)


def png_bytes(image: Image.Image) -> bytes:
    """`image` as PNG bytes (fast compression: previews are short-lived)."""
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def export_bytes(palette: Palette, fmt: str, names: str) -> tuple[bytes, str, str]:
    """(body, media type, file extension) of `palette` as `fmt` (a palette format or a swatch)."""
    if fmt == "swatch.png":
        return png_bytes(palette.to_image()), SWATCHES[fmt], "swatch.png"
    if fmt == "swatch.svg":
        return palette.to_svg().encode(), SWATCHES[fmt], "swatch.svg"
    spec = FORMATS[fmt]
    media = _MEDIA.get(fmt, "application/octet-stream" if spec.binary else "text/plain; charset=utf-8")
    return dump_palette(palette, fmt, names=names), media, spec.extensions[0]


def attachment(source: str, ext: str) -> str:
    """Content-Disposition for a download named after the image: ``photo-palette.gpl``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", PurePosixPath(source).stem).strip("._") or "palette"
    return f'attachment; filename="{stem[:60]}-palette.{ext}"'


# -- the app --------------------------------------------------------------------------------


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app; `settings` holds its limits (the defaults are safe for local use)."""
    settings = settings or Settings()
    store = SessionStore(ttl=settings.session_ttl, max_entries=settings.max_sessions) if settings.sessions else None
    limiter = anyio.CapacityLimiter(WORKERS)
    app = FastAPI(
        title="chromapal",
        version=__version__,
        description="Colour palettes of images by perceptual k-means. Errors are JSON "
        '`{"error": "..."}`.',
        docs_url=None,  # FastAPI's Swagger page loads scripts from a CDN; ours is offline
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.add_middleware(
        Guard, max_body=settings.max_upload_bytes + _FORM_SLACK, allowed_hosts=settings.allowed_hosts
    )
    app.mount("/static", StaticFiles(directory=str(_WEB / "static")), name="static")
    _add_error_handlers(app)

    async def run(func: Any, *args: Any) -> Any:
        return await anyio.to_thread.run_sync(func, *args, limiter=limiter)

    async def entry_for(image: UploadFile | None, token: str | None, url: str | None) -> Entry:
        given = [x for x in (image, token, url) if x not in (None, "")]
        if len(given) != 1:
            raise HTTPException(422, "send exactly one of: an image file, a session token or a URL")
        if token:
            entry = store.get(token) if store is not None else None
            if entry is None:
                raise HTTPException(404, "unknown or expired session token; upload the image again")
            return entry
        if url:
            if not settings.allow_urls:
                raise HTTPException(403, "fetching URLs is off; start the server with --allow-urls")
            data = await run(_fetch, url, settings)
            return await run(decode_entry, data, upload_name(url.split("?")[0]), settings)
        assert image is not None
        data = await _read_upload(image, settings.max_upload_bytes)
        return await run(decode_entry, data, upload_name(image.filename), settings)

    def keep(entry: Entry, wanted: bool, response: Response) -> None:
        if wanted and store is not None:
            response.headers["X-Chromapal-Token"] = store.add(entry)
            response.headers["X-Chromapal-Expires"] = f"{settings.session_ttl:g}"

    _add_pages(app, settings)

    @app.post("/api/palette", summary="Palette of an image, as `chromapal --json` prints it")
    async def api_palette(
        image: Annotated[UploadFile | None, File(description="The image file")] = None,
        token: Annotated[str | None, Form(description="Session token from an earlier upload")] = None,
        url: Annotated[str | None, Form(description="http(s) URL (only with --allow-urls)")] = None,
        k: Annotated[int, Form(ge=1, le=MAX_K)] = 8,
        space: Annotated[Space, Form()] = "oklab",
        seed: Annotated[int, Form()] = 0,
        sort: Annotated[Sort, Form()] = "share",
        merge: Annotated[float | None, Form(ge=0)] = None,
        min_share: Annotated[float, Form(ge=0, le=1)] = 0.0,
        keep_image: Annotated[bool, Form(alias="keep", description="Keep the decoded image in memory "
                                          "for later requests; the token is in X-Chromapal-Token")] = False,
    ) -> Response:
        """Return the palette JSON (``source``, ``k``, ``space``, ``colors`` with hex, rgb, share, names)."""
        entry = await entry_for(image, token, url)
        options = Options(k, space, seed, sort, merge, min_share)
        palette = await run(palette_for, entry, options, store)
        body = dumps_palettes(palette_dict(palette)) + "\n"
        response = Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})
        keep(entry, keep_image and not token, response)
        return response

    @app.post("/api/recolor", summary="The image redrawn with its palette colours (PNG)",
              response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def api_recolor(
        image: Annotated[UploadFile | None, File()] = None,
        token: Annotated[str | None, Form()] = None,
        url: Annotated[str | None, Form()] = None,
        k: Annotated[int, Form(ge=1, le=MAX_K)] = 8,
        space: Annotated[Space, Form()] = "oklab",
        seed: Annotated[int, Form()] = 0,
        merge: Annotated[float | None, Form(ge=0)] = None,
        min_share: Annotated[float, Form(ge=0, le=1)] = 0.0,
        dither: Annotated[bool, Form()] = False,
    ) -> Response:
        """Return a PNG preview (longer side at most the preview size) in the palette's colours."""
        entry = await entry_for(image, token, url)
        options = Options(k, space, seed, "share", merge, min_share)

        def draw() -> bytes:
            palette = palette_for(entry, options, store)
            return png_bytes(recolor_pixels(entry.preview, palette, dither=dither))

        return Response(await run(draw), media_type="image/png", headers={"Cache-Control": "no-store"})

    async def export(entry: Entry, fmt: str, options: Options, names: str) -> Response:
        def build() -> tuple[bytes, str, str]:
            return export_bytes(palette_for(entry, options, store), fmt, names)

        body, media, ext = await run(build)
        headers = {"Content-Disposition": attachment(entry.name, ext), "Cache-Control": "no-store"}
        return Response(body, media_type=media, headers=headers)

    @app.get("/api/export/{fmt}", summary="Palette file or swatch image of a kept image",
             response_class=Response)
    async def api_export(
        fmt: ExportFormat,
        token: Annotated[str, Query(description="Session token from POST /api/palette with keep=true")],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 8,
        space: Space = "oklab",
        seed: int = 0,
        sort: Sort = "share",
        merge: Annotated[float | None, Query(ge=0)] = None,
        min_share: Annotated[float, Query(ge=0, le=1)] = 0.0,
        names: Names = "css",
    ) -> Response:
        """Download the palette in a `chromapal` export format, or as ``swatch.png``/``swatch.svg``."""
        entry = await entry_for(None, token, None)
        return await export(entry, fmt, Options(k, space, seed, sort, merge, min_share), names)

    @app.post("/api/export/{fmt}", summary="Palette file or swatch image of an uploaded image",
              response_class=Response)
    async def api_export_upload(
        fmt: ExportFormat,
        image: Annotated[UploadFile | None, File()] = None,
        token: Annotated[str | None, Form()] = None,
        url: Annotated[str | None, Form()] = None,
        k: Annotated[int, Form(ge=1, le=MAX_K)] = 8,
        space: Annotated[Space, Form()] = "oklab",
        seed: Annotated[int, Form()] = 0,
        sort: Annotated[Sort, Form()] = "share",
        merge: Annotated[float | None, Form(ge=0)] = None,
        min_share: Annotated[float, Form(ge=0, le=1)] = 0.0,
        names: Annotated[Names, Form()] = "css",
    ) -> Response:
        """As ``GET /api/export/{fmt}``, for an image sent with the request."""
        entry = await entry_for(image, token, url)
        return await export(entry, fmt, Options(k, space, seed, sort, merge, min_share), names)

    @app.delete("/api/session/{token}", summary="Forget a kept image now")
    async def api_forget(token: str) -> JSONResponse:
        """Drop the kept image; 404 if the token is unknown or expired."""
        if store is None or not store.discard(token):
            raise HTTPException(404, "unknown or expired session token")
        return JSONResponse({"forgotten": True})

    return app


async def _read_upload(image: UploadFile, limit: int) -> bytes:
    """Return the uploaded file's bytes; 413 over `limit`, 415 when empty."""
    if image.size is not None and image.size > limit:
        raise HTTPException(413, f"upload of {image.size:,} bytes is over the {limit:,}-byte limit")
    data = await image.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"upload is over the {limit:,}-byte limit")
    if not data:
        raise HTTPException(415, f"{upload_name(image.filename)}: empty file, not an image")
    return data


def _fetch(url: str, settings: Settings) -> bytes:
    return fetch_image_bytes(
        url, timeout=settings.fetch_timeout, max_bytes=settings.fetch_max_bytes, policy=settings.url_policy
    )


def _add_error_handlers(app: FastAPI) -> None:
    """Every error the client sees is ``{"error": "..."}`` with a fitting status."""

    @app.exception_handler(PaletteError)
    async def palette_error(request: Request, exc: PaletteError) -> JSONResponse:
        return _error(error_status(exc), str(exc))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(422, _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(MemoryError)
    async def out_of_memory(request: Request, exc: MemoryError) -> JSONResponse:
        return _error(413, "the image is too large to decode in the memory available")


def _add_pages(app: FastAPI, settings: Settings) -> None:
    """Add the page and the offline API reference."""
    config = {
        "maxUploadBytes": settings.max_upload_bytes,
        "sessions": settings.sessions,
        "allowUrls": settings.allow_urls,
        "spaces": list(SPACES),
        "sorts": list(SORT_KEYS),
        "names": list(NAME_LISTS),
        "formats": [
            {"id": key, "short": _SHORT.get(key, key.upper()), "label": spec.description}
            for key, spec in FORMATS.items()
        ] + [{"id": key, "short": _SHORT[key], "label": f"swatch strip picture ({key})"} for key in SWATCHES],
        "version": __version__,
    }
    headers = {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' blob: data:; "
        "object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }

    def page(name: str) -> str:
        text = (_WEB / "templates" / name).read_text(encoding="utf-8")
        safe = json.dumps(config).replace("<", "\\u003c")  # cannot close the script element
        return text.replace("{{ config }}", safe).replace("{{ version }}", __version__)

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page("index.html"), headers=headers)

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(page("docs.html"), headers=headers)
