"""The page and the offline API reference (``GET /``, ``GET /docs``, ``/static``).

Both are templates from ``chromapal/web/templates`` with the app's configuration (limits,
spaces, export formats) written into a script element; nothing is loaded from another host.
"""

from __future__ import annotations

import json
from importlib.resources import files
from typing import Final

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..adjust import SORT_KEYS
from ..colorspace import SPACES
from ..export import FORMATS
from ..names import NAME_LISTS
from .downloads import SWATCHES
from .settings import Settings

_WEB: Final = files("chromapal.web")
#: Button labels on the page (the full description is the tooltip).
_SHORT: Final = {
    "txt": "Hex list", "tailwind": "Tailwind", "gpl": "GIMP", "ase": "Adobe ASE", "paintnet": "Paint.NET",
    "kpl": "Krita", "procreate": "Procreate", "svg": "SVG squares", "swatch.png": "Swatch PNG",
    "swatch.svg": "Swatch SVG",
}


def add_pages(app: FastAPI, settings: Settings) -> None:
    """Add the page, the offline API reference and the static files they use."""
    app.mount("/static", StaticFiles(directory=str(_WEB / "static")), name="static")
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
