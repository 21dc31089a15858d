"""The local web app: a page and a JSON API over the palette pipeline (FastAPI).

Routes: ``GET /`` the page, ``POST /api/palette`` the palette as ``chromapal --json``
prints it, ``POST /api/recolor`` the flattened preview as PNG, ``GET|POST
/api/export/{format}`` palette files and swatch images, ``DELETE /api/session/{token}``,
``GET /openapi.json`` and ``GET /docs`` (an offline reference built from the schema).

Every error is JSON ``{"error": "..."}``: 4xx for what the user can fix, 503 when the
server is too busy to start the work in time, 500 plus a log line (no traceback to the
client) for bugs. Uploads are read into memory under a size and time limit enforced
while the body streams in (`chromapal.web.limits`); fetching, decoding and clustering
run in worker processes under a per-image deadline (`chromapal.web.work`). Uploaded
files are never written outside the temporary directory the multipart parser spools
to, and are closed when the response is sent. See `chromapal.web.sessions` for what
the page keeps and `chromapal.web.settings` for every limit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Annotated, Final, Literal

from fastapi import FastAPI, File, Form, Query, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException

from .. import __version__
from ..adjust import clean_palette
from ..errors import (
    EmptyImageError,
    ImageTimeoutError,
    ImageTooLargeError,
    PaletteError,
    SourceError,
    UnreadableImageError,
)
from ..export import FORMATS
from ..export.data import palette_dict
from ..palette import Palette, dumps_palettes
from ..pipeline import MAX_K
from ..render.recolor import recolor_pixels
from ..workers import WorkerCrashedError
from . import jobs
from .downloads import SWATCHES, attachment, export_bytes, png_bytes
from .limits import Guard, error_response
from .pages import add_pages
from .sessions import Entry, SessionStore
from .settings import Settings
from .work import ClientGoneError, ServerBusyError, Work

__all__ = ["Settings", "create_app"]

log = logging.getLogger("chromapal.web")

#: Seconds a client told the server is busy is asked to wait before trying again.
RETRY_AFTER: Final = 5

Space = Literal["oklab", "cielab", "srgb"]
Sort = Literal["share", "lightness", "hue", "chroma"]
Names = Literal["css", "xkcd"]
if TYPE_CHECKING:
    ExportFormat = str
else:  # built from the registry: every palette file format and the two swatch pictures
    ExportFormat = Literal[tuple([*FORMATS, *SWATCHES])]


# -- errors ---------------------------------------------------------------------------------


def error_status(exc: PaletteError) -> int:
    """HTTP status for a user error: 413 too large, 415 not an image, 422 nothing to cluster or too slow.

    An image past the per-image deadline is a 422: the request was understood and the
    image is the problem (sending it again fails again), unlike a 408 (the client was
    slow to send) or a 503 (the server is busy: trying again may work).
    """
    if isinstance(exc, ImageTooLargeError):
        return 413
    if isinstance(exc, (EmptyImageError, ImageTimeoutError)):
        return 422
    if isinstance(exc, UnreadableImageError) and not isinstance(exc, SourceError):
        return 415
    if isinstance(exc, WorkerCrashedError):  # a decoder crash or an out-of-memory kill
        return 500
    return 400


def _validation_message(exc: RequestValidationError) -> str:
    """First problem of a validation error as one line: ``k: Input should be ...``."""
    problems = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path"))
        where = {"fmt": "format"}.get(where, where)  # the URL's /api/export/FORMAT, not the Python name
        problems.append(f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg")))
    return "; ".join(problems) or "invalid request"


# -- the work -------------------------------------------------------------------------------


def upload_name(filename: str | None) -> str:
    """Return a printable base name for an upload (never used as a path)."""
    name = PurePosixPath((filename or "").replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable())[:120]
    return name or "upload"


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
    def how(self) -> jobs.Clustering:
        """The options that change the raw palette: its cache key (clean-up is cheap and not cached)."""
        return jobs.Clustering(self.k, self.space, self.seed)


def new_entry(work: Work, settings: Settings, data: bytes | None, url: str | None, name: str,
              how: jobs.Clustering) -> Entry:
    """Fetch (or take) and decode an image and cluster it with `how`, in a worker (blocking)."""
    fetch = None if url is None else jobs.Fetch(settings.fetch_timeout, settings.fetch_max_bytes, settings.url_policy)
    doing = "decode and cluster" if url is None else "fetch, decode and cluster"
    decoded, raw = work.call(url or name, doing, jobs.image_job, data, url, name, max_pixels=settings.max_pixels,
                             preview_side=settings.preview_side, fetch=fetch, how=how)
    entry = Entry(name=decoded.name, counts=decoded.counts, preview=decoded.preview, exact=decoded.exact)
    if raw is not None:
        entry.remember(how, raw)
    return entry


@dataclass
class Source:
    """A request's image: a kept entry, or the upload or URL to decode (in a worker) first."""

    work: Work
    settings: Settings
    entry: Entry | None = None
    data: bytes | None = None
    url: str | None = None
    name: str = "upload"

    def get(self, how: jobs.Clustering) -> Entry:
        """The entry, decoding (and clustering with `how`) a new image in a worker (blocking)."""
        if self.entry is None:
            self.entry = new_entry(self.work, self.settings, self.data, self.url, self.name, how)
            self.data = None  # the upload's bytes are not needed any more
        return self.entry


def palette_for(entry: Entry, options: Options, work: Work) -> Palette:
    """Return the cleaned palette of `entry`, clustering in a worker unless done before (blocking)."""
    with entry.busy:
        raw = entry.palette(options.how)
        if raw is None:
            raw = work.call(entry.name, "cluster", jobs.cluster, entry.counts, options.how, entry.name, entry.exact)
            entry.remember(options.how, raw)
    return clean_palette(raw, merge=options.merge, min_share=options.min_share, sort=options.sort)


# -- the app --------------------------------------------------------------------------------


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the web app; `settings` holds its limits (the defaults are safe for local use)."""
    settings = settings or Settings()
    store = SessionStore(ttl=settings.session_ttl, max_entries=settings.max_sessions) if settings.sessions else None
    work = Work(settings)
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
    app.state.work = work
    app.add_middleware(
        Guard, max_body=settings.max_body, allowed_hosts=settings.allowed_hosts,
        body_idle_timeout=settings.body_idle_timeout, body_timeout=settings.body_timeout,
        send_timeout=settings.send_timeout,
    )
    _add_error_handlers(app)

    async def source(image: UploadFile | None, token: str | None, url: str | None) -> Source:
        """How to get the request's image: a kept entry, or a fetch and decode still to do."""
        given = [x for x in (image, token, url) if x not in (None, "")]
        if len(given) != 1:
            raise HTTPException(422, "send exactly one of: an image file, a session token or a URL")
        if token:
            entry = store.get(token) if store is not None else None
            if entry is None:
                raise HTTPException(404, "unknown or expired session token; upload the image again")
            return Source(work, settings, entry=entry)
        if url:
            if not settings.allow_urls:
                raise HTTPException(403, "fetching URLs is off; start the server with --allow-urls")
            return Source(work, settings, url=url, name=upload_name(url.split("?")[0]))
        assert image is not None
        data = await _read_upload(image, settings.max_upload_bytes)
        return Source(work, settings, data=data, name=upload_name(image.filename))

    def keep(entry: Entry, wanted: bool, response: Response) -> None:
        if wanted and store is not None:
            response.headers["X-Chromapal-Token"] = store.add(entry)
            response.headers["X-Chromapal-Expires"] = f"{settings.session_ttl:g}"

    add_pages(app, settings)
    if settings.collection_db is not None:  # chromapal serve --db: the collection view
        from pathlib import Path

        from .collection import add_collection

        add_collection(app, settings, work, Path(settings.collection_db))

    @app.post("/api/palette", summary="Palette of an image, as `chromapal --json` prints it")
    async def api_palette(
        request: Request,
        image: Annotated[UploadFile | None, File(description="The image file")] = None,
        token: Annotated[str | None, Form(description="Session token from an earlier upload")] = None,
        url: Annotated[str | None, Form(description="http(s) URL (only with --allow-urls)")] = None,
        k: Annotated[int, Form(ge=1, le=MAX_K)] = 8,
        space: Annotated[Space, Form()] = "oklab",
        seed: Annotated[int, Form()] = 0,
        sort: Annotated[Sort, Form()] = "share",
        merge: Annotated[float | None, Form(ge=0, allow_inf_nan=False)] = None,
        min_share: Annotated[float, Form(ge=0, le=1, allow_inf_nan=False)] = 0.0,
        keep_image: Annotated[bool, Form(alias="keep", description="Keep the decoded image in memory "
                                          "for later requests; the token is in X-Chromapal-Token")] = False,
    ) -> Response:
        """Return the palette JSON (``source``, ``k``, ``space``, ``colors`` with hex, rgb, share, names)."""
        image_source = await source(image, token, url)
        options = Options(k, space, seed, sort, merge, min_share)

        def build() -> tuple[Entry, str]:
            entry = image_source.get(options.how)
            return entry, dumps_palettes(palette_dict(palette_for(entry, options, work))) + "\n"

        entry, body = await work.run(build, gone=request.is_disconnected)
        response = Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})
        keep(entry, keep_image and not token, response)
        return response

    @app.post("/api/recolor", summary="The image redrawn with its palette colours (PNG)",
              response_class=Response, responses={200: {"content": {"image/png": {}}}})
    async def api_recolor(
        request: Request,
        image: Annotated[UploadFile | None, File()] = None,
        token: Annotated[str | None, Form()] = None,
        url: Annotated[str | None, Form()] = None,
        k: Annotated[int, Form(ge=1, le=MAX_K)] = 8,
        space: Annotated[Space, Form()] = "oklab",
        seed: Annotated[int, Form()] = 0,
        merge: Annotated[float | None, Form(ge=0, allow_inf_nan=False)] = None,
        min_share: Annotated[float, Form(ge=0, le=1, allow_inf_nan=False)] = 0.0,
        dither: Annotated[bool, Form()] = False,
    ) -> Response:
        """Return a PNG preview (longer side at most the preview size) in the palette's colours."""
        image_source = await source(image, token, url)
        options = Options(k, space, seed, "share", merge, min_share)

        def draw() -> bytes:
            entry = image_source.get(options.how)
            palette = palette_for(entry, options, work)
            return png_bytes(recolor_pixels(entry.preview, palette, dither=dither))

        png = await work.run(draw, gone=request.is_disconnected)
        return Response(png, media_type="image/png", headers={"Cache-Control": "no-store"})

    async def export(request: Request, image_source: Source, fmt: str, options: Options, names: str) -> Response:
        def build() -> tuple[str, bytes, str, str]:
            entry = image_source.get(options.how)
            return entry.name, *export_bytes(palette_for(entry, options, work), fmt, names)

        name, body, media, ext = await work.run(build, gone=request.is_disconnected)
        headers = {"Content-Disposition": attachment(name, ext), "Cache-Control": "no-store"}
        return Response(body, media_type=media, headers=headers)

    @app.get("/api/export/{fmt}", summary="Palette file or swatch image of a kept image",
             response_class=Response)
    async def api_export(
        request: Request,
        fmt: ExportFormat,
        token: Annotated[str, Query(description="Session token from POST /api/palette with keep=true")],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 8,
        space: Space = "oklab",
        seed: int = 0,
        sort: Sort = "share",
        merge: Annotated[float | None, Query(ge=0, allow_inf_nan=False)] = None,
        min_share: Annotated[float, Query(ge=0, le=1, allow_inf_nan=False)] = 0.0,
        names: Names = "css",
    ) -> Response:
        """Download the palette in a `chromapal` export format, or as ``swatch.png``/``swatch.svg``."""
        image_source = await source(None, token, None)
        return await export(request, image_source, fmt, Options(k, space, seed, sort, merge, min_share), names)

    @app.post("/api/export/{fmt}", summary="Palette file or swatch image of an uploaded image",
              response_class=Response)
    async def api_export_upload(
        request: Request,
        fmt: ExportFormat,
        image: Annotated[UploadFile | None, File()] = None,
        token: Annotated[str | None, Form()] = None,
        url: Annotated[str | None, Form()] = None,
        k: Annotated[int, Form(ge=1, le=MAX_K)] = 8,
        space: Annotated[Space, Form()] = "oklab",
        seed: Annotated[int, Form()] = 0,
        sort: Annotated[Sort, Form()] = "share",
        merge: Annotated[float | None, Form(ge=0, allow_inf_nan=False)] = None,
        min_share: Annotated[float, Form(ge=0, le=1, allow_inf_nan=False)] = 0.0,
        names: Annotated[Names, Form()] = "css",
    ) -> Response:
        """As ``GET /api/export/{fmt}``, for an image sent with the request."""
        image_source = await source(image, token, url)
        return await export(request, image_source, fmt, Options(k, space, seed, sort, merge, min_share), names)

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


def _add_error_handlers(app: FastAPI) -> None:
    """Every error the client sees is ``{"error": "..."}`` with a fitting status."""

    @app.exception_handler(PaletteError)
    async def palette_error(request: Request, exc: PaletteError) -> JSONResponse:
        status = error_status(exc)
        if status >= 500:
            log.error("%s %s: %s", request.method, request.url.path, exc)
        return error_response(status, str(exc))

    @app.exception_handler(ServerBusyError)
    async def busy(request: Request, exc: ServerBusyError) -> JSONResponse:
        return error_response(503, str(exc), {"Retry-After": str(RETRY_AFTER)})

    @app.exception_handler(ClientGoneError)
    async def gone(request: Request, exc: ClientGoneError) -> JSONResponse:
        log.info("%s %s: %s", request.method, request.url.path, exc)
        return error_response(400, str(exc), {"Connection": "close"})  # nobody reads it

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return error_response(422, _validation_message(exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        return error_response(exc.status_code, str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(MemoryError)
    async def out_of_memory(request: Request, exc: MemoryError) -> JSONResponse:
        return error_response(413, "the image is too large to decode in the memory available")
