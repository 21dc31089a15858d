"""The collection view of ``chromapal serve --db palettes.sqlite``: search and browse stored palettes.

Routes: ``GET /collection`` the page; ``GET /api/collection/search`` (colours, facets, k;
no query: the palettes in stored order); ``POST /api/collection/like`` (an image: the most
similar stored palettes); ``GET /api/collection/image/{id}`` (one image: its palette at
every stored k and its most similar images); ``GET /api/collection/thumb/{id}`` (a
thumbnail of a stored local file).

Safety is the single-image page's: the app's Host guard and body limits apply, uploads
go through the same worker processes and deadline (`chromapal.web.work`), and the page
loads nothing from another host, except the IIIF thumbnails of stored canvases, and
those only with ``--allow-urls`` (the Content-Security-Policy then names exactly the
origins of the stored Image API services, at most `MAX_ORIGINS`). Thumbnails of local
files are made in a worker under the image deadline and pixel limit; only files whose
path is stored in the database are served, by palette id, never a path from a request.
"""

from __future__ import annotations

import io
import json
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any, Final
from urllib.parse import urlsplit

from fastapi import FastAPI, File, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from ..facets import FACET_NAMES
from ..load import is_url
from ..palette import to_hex
from ..store import PaletteFilter, PaletteStore
from . import jobs
from .settings import Settings
from .work import Work

_WEB: Final = files("chromapal.web")
#: Results per query, colours and facets per query, at most.
MAX_RESULTS: Final = 100
MAX_QUERY_COLORS: Final = 8
#: IIIF origins the page may load thumbnails from, at most (the first ones stored).
MAX_ORIGINS: Final = 64
#: Thumbnail sizes: local files (longer side, pixels) and the IIIF request (width).
THUMB_SIDE: Final = 240
#: k of the palette computed from an image dropped on the page.
LIKE_K: Final = 8


def thumbnail_job(path: str, *, max_pixels: int, side: int) -> bytes:
    """A JPEG thumbnail of a stored local file (in a worker process, under the deadline)."""
    from PIL import Image

    from ..load import load_image

    loaded = load_image(path, max_pixels=max_pixels, draft_above=side * side * 4)
    image = Image.fromarray(loaded.pixels[..., :3])
    image.thumbnail((side, side))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85)
    return out.getvalue()


def iiif_origins(db: Path, limit: int = MAX_ORIGINS) -> list[str]:
    """The distinct origins (``https://host:port``) of the stored Image API services."""
    origins: list[str] = []
    with PaletteStore(db, create=False) as store:
        for (service,) in store.conn.execute("SELECT DISTINCT service FROM iiif WHERE service IS NOT NULL"):
            parts = urlsplit(service)
            origin = f"{parts.scheme}://{parts.netloc}"
            if parts.scheme in ("http", "https") and origin not in origins and " " not in origin and ";" not in origin:
                origins.append(origin)
                if len(origins) >= limit:
                    break
    return origins


def add_collection(app: FastAPI, settings: Settings, work: Work, db: Path) -> None:
    """Add the collection page and its API over the database `db` (which must exist)."""
    PaletteStore(db, create=False).close()  # a missing or foreign file fails at start-up
    origins = iiif_origins(db) if settings.allow_urls else []
    headers = {
        "Content-Security-Policy": "default-src 'self'; img-src 'self' data: " + " ".join(origins)
        + "; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
    }
    config = {"facets": list(FACET_NAMES), "maxColors": MAX_QUERY_COLORS, "maxUploadBytes": settings.max_upload_bytes}

    def card(store: PaletteStore, image_id: int, distance: float | None) -> dict[str, Any]:
        row = store.conn.execute(
            "SELECT i.source, i.k, i.options, f.label, f.service, f.image_url FROM images AS i "
            "LEFT JOIN iiif AS f ON f.image_id = i.id WHERE i.id = ?",
            (image_id,),
        ).fetchone()
        source, k, options, label, service, image_url = row
        colors = store.conn.execute(
            "SELECT hex, share FROM colors WHERE image_id = ? ORDER BY rank", (image_id,)
        ).fetchall()
        if service or image_url or is_url(source):
            thumb = (
                (f"{service}/full/{THUMB_SIDE},/0/default.jpg" if service else image_url or source)
                if settings.allow_urls and _origin(service or image_url or source) in origins
                else None
            )
        else:
            thumb = f"/api/collection/thumb/{image_id}"
        name = label or (source.rsplit("/", 1)[-1] if source else "")
        return {
            "id": image_id, "source": source, "label": name, "k": k, "options": json.loads(options),
            "distance": None if distance is None else round(distance, 3),
            "colors": [{"hex": h, "share": round(s, 4)} for h, s in colors], "thumb": thumb,
        }

    def open_store() -> PaletteStore:
        return PaletteStore(db, create=False)

    def run_search(colors: list[str], facets: list[str], k: list[int], limit: int, offset: int) -> dict[str, Any]:
        from ..search import search
        from ..search_multi import search_colors

        where = PaletteFilter(k=tuple(k))
        wanted = dict(_facet(f) for f in facets)
        with open_store() as store:
            if not colors and not wanted:
                condition, params = where.sql("images")
                ids = [(r[0], None) for r in store.conn.execute(
                    f"SELECT id FROM images WHERE {condition} ORDER BY id LIMIT ? OFFSET ?", [*params, limit, offset])]
            elif len(colors) == 1 and not wanted and ":" not in colors[0] and "*" not in colors[0]:
                ids = [(m.image_id, m.delta_e) for m in search(store, colors[0], limit=limit, where=where)]
            else:
                found = search_colors(store, colors, facets=wanted, limit=limit, where=where)
                ids = [(m.image_id, m.distance if colors else None) for m in found]
            return {"results": [card(store, i, d) for i, d in ids]}

    @app.get("/collection", include_in_schema=False)
    async def collection_page() -> HTMLResponse:
        text = (_WEB / "templates" / "collection.html").read_text(encoding="utf-8")
        return HTMLResponse(text.replace("{{ config }}", json.dumps(config).replace("<", "\\u003c")), headers=headers)

    @app.get("/api/collection/search", summary="Stored palettes by colours, facets and k")
    async def collection_search(
        color: Annotated[list[str], Query(description="COLOR[:SHARE%][*WEIGHT], hex or CSS name")] = [],  # noqa: B006
        facet: Annotated[list[str], Query(description="NAME[:SHARE%]")] = [],  # noqa: B006
        k: Annotated[list[int], Query(description="Only palettes of these k")] = [],  # noqa: B006
        limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 40,
        offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    ) -> JSONResponse:
        """Images holding every colour (closest first) and covering every facet; none: stored order."""
        if len(color) > MAX_QUERY_COLORS or len(facet) > MAX_QUERY_COLORS or len(k) > 64:
            raise HTTPException(422, f"at most {MAX_QUERY_COLORS} colours and facets per search")
        if any(not 1 <= value <= 256 for value in k):
            raise HTTPException(422, "k: each value must be between 1 and 256")
        return JSONResponse(await run_in_threadpool(run_search, color, facet, k, limit, offset))

    @app.post("/api/collection/like", summary="Stored palettes most similar to an image's")
    async def collection_like(
        request: Request,
        image: Annotated[UploadFile, File()],
        limit: Annotated[int, Query(ge=1, le=MAX_RESULTS)] = 40,
    ) -> JSONResponse:
        """The image's palette (k = 8), then the stored palettes nearest to it (earth mover's distance)."""
        data = await image.read(settings.max_upload_bytes + 1)
        if len(data) > settings.max_upload_bytes:
            raise HTTPException(413, f"upload is over the {settings.max_upload_bytes:,}-byte limit")
        if not data:
            raise HTTPException(415, "empty file, not an image")
        name = Path((image.filename or "upload").replace("\\", "/")).name[:120] or "upload"

        def build() -> dict[str, Any]:
            from ..search_like import search_like

            _, palette = work.call(name, "decode and cluster", jobs.image_job, data, None, name,
                                   max_pixels=settings.max_pixels, preview_side=64, fetch=None,
                                   how=jobs.Clustering(LIKE_K, "oklab", 0))
            with open_store() as store:
                found = search_like(store, palette.colors.tolist(), palette.proportions.tolist(), limit=limit)
                return {"query": [{"hex": to_hex(c), "share": round(float(s), 4)} for c, s in
                                  zip(palette.colors.tolist(), palette.proportions, strict=True)],
                        "results": [card(store, m.image_id, m.distance) for m in found]}

        return JSONResponse(await work.run(build, gone=request.is_disconnected))

    @app.get("/api/collection/image/{image_id}", summary="One stored image: every k and similar images")
    async def collection_image(image_id: int) -> JSONResponse:
        """Its palettes at every stored k and options, its IIIF record, and the most similar palettes."""

        def build() -> dict[str, Any]:
            from ..search_like import search_like

            with open_store() as store:
                try:
                    image = store.image(image_id)
                except KeyError:
                    raise HTTPException(404, f"no stored palette {image_id}") from None
                palettes = [
                    {"id": p.image_id, "k": p.k, "options": json.loads(p.options),
                     "colors": [{"hex": c["hex"], "share": round(c["share"], 4)} for c in p.colors]}
                    for p in store.images(source=image.source)
                ]
                rgb = [c["rgb"] for c in image.colors]
                shares = [c["share"] for c in image.colors]
                similar = search_like(store, rgb, shares, limit=8, exclude=image.source)
                return {**card(store, image_id, None), "iiif": image.iiif, "facets": image.facets,
                        "palettes": sorted(palettes, key=lambda p: p["k"]),
                        "similar": [card(store, m.image_id, m.distance) for m in similar]}

        return JSONResponse(await run_in_threadpool(build))

    @app.get("/api/collection/thumb/{image_id}", include_in_schema=False)
    async def collection_thumb(request: Request, image_id: int) -> Response:
        def source() -> str:
            with open_store() as store:
                row = store.conn.execute("SELECT source FROM images WHERE id = ?", (image_id,)).fetchone()
            if row is None or is_url(row[0]) or not Path(row[0]).is_file():
                raise HTTPException(404, "no local file for this palette")
            return str(row[0])

        path = await run_in_threadpool(source)

        def build() -> bytes:
            return work.call(Path(path).name, "make a thumbnail of", thumbnail_job, path,
                             max_pixels=settings.max_pixels, side=THUMB_SIDE)

        body = await work.run(build, gone=request.is_disconnected)
        return Response(body, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=300"})


def _origin(url: str | None) -> str:
    parts = urlsplit(url or "")
    return f"{parts.scheme}://{parts.netloc}"


def _facet(text: str) -> tuple[str, float]:
    """``NAME[:SHARE%]`` into (facet, share 0-1); a ValueError is the client's 400."""
    from ..facets import check_facet

    name, _, share = text.partition(":")
    try:
        value = float(share.rstrip("%")) / (100 if share.endswith("%") else 1) if share else 0.0
    except ValueError:
        raise HTTPException(422, f"facet {text!r}: the share is not a number") from None
    if not 0 <= value <= 1:
        raise HTTPException(422, f"facet {text!r}: the share must be between 0 and 100 %")
    try:
        return check_facet(name), value
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
