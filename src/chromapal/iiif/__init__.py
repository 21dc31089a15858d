"""IIIF in: manifests and collections as batch inputs, canvas images through the Image API.

`expand_url` tells whether a URL is a IIIF manifest or collection and, if it is, walks
it (`chromapal.iiif.presentation`); `fetch_canvas` downloads one canvas's image at the
size a palette needs (`chromapal.iiif.image_api`). Every download goes through
`chromapal.fetch.fetch_url` with retries on 429, 503 and connection errors
(`chromapal.iiif.polite`).
"""

from __future__ import annotations

import dataclasses
import io
import os
import time
from typing import Any, Final
from urllib.parse import urlsplit

from ..errors import SourceError
from .image_api import TARGET_SIDE, ImageInfo, image_request, parse_info
from .polite import polite_fetch
from .presentation import (
    MAX_DOCUMENT_BYTES,
    CanvasImage,
    Walk,
    flatten,
    is_iiif,
    parse_document,
    walk,
)

__all__ = [
    "TARGET_SIDE",
    "CanvasImage",
    "ImageInfo",
    "Walk",
    "canvas_url",
    "expand_url",
    "fetch_canvas",
    "flatten",
    "image_request",
    "is_iiif",
    "parse_info",
    "walk",
]

#: Seconds each manifest or collection may take to download (retries included).
DOCUMENT_TIMEOUT: Final = 30.0
#: Largest info.json accepted.
MAX_INFO_BYTES: Final = 1024 * 1024
_IMAGE_SUFFIXES: Final = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".tif", ".tiff", ".bmp", ".jp2")


def _fetch_document(url: str) -> dict[str, Any]:
    data = polite_fetch(
        url, deadline=time.monotonic() + DOCUMENT_TIMEOUT, max_bytes=MAX_DOCUMENT_BYTES
    )
    return parse_document(data, url)


def expand_url(url: str, *, timeout: float | None = None) -> Walk | None:
    """The canvases of `url` if it is a IIIF manifest or collection; None if it is an image.

    A URL whose path ends in an image extension is taken for an image without a
    download; any other is read once (at most `MAX_DOCUMENT_BYTES`, within `timeout`
    seconds, `DOCUMENT_TIMEOUT` at most): JSON that is a manifest or collection is walked,
    anything else is an image.

    Raises
    ------
    SourceError
        If the URL cannot be read, or is JSON but neither a manifest nor a collection.
    """
    if os.path.splitext(urlsplit(url).path)[1].lower() in _IMAGE_SUFFIXES:
        return None
    try:
        seconds = DOCUMENT_TIMEOUT if timeout is None else min(timeout, DOCUMENT_TIMEOUT)
        data = polite_fetch(url, deadline=time.monotonic() + seconds, max_bytes=MAX_DOCUMENT_BYTES)
    except SourceError as exc:
        if "-byte limit" in str(exc):  # too big for a manifest: an image
            return None
        raise
    if data.lstrip()[:1] not in (b"{", b"["):
        return None
    doc = parse_document(data, url)
    return walk(url, _fetch_document, first=doc)


def canvas_url(canvas: dict[str, Any], deadline: float) -> str:
    """The URL of a canvas's image (a `CanvasImage.as_dict`) at the size a palette needs.

    Through its Image API service (its info.json read before `deadline`) at the size
    `image_request` chooses, else the image resource's own URL.

    Raises
    ------
    SourceError
        If info.json cannot be downloaded or read, or the canvas has no image.
    """
    service = canvas.get("service")
    if service:
        info_url = f"{service}/info.json"
        info = parse_info(polite_fetch(info_url, deadline=deadline, max_bytes=MAX_INFO_BYTES), info_url)
        return image_request(dataclasses.replace(info, id=service))  # the id the manifest gave
    if canvas.get("image_url"):
        return str(canvas["image_url"])
    raise SourceError(f"{canvas.get('canvas')}: the canvas has no image")


def fetch_canvas(canvas: dict[str, Any], deadline: float) -> tuple[io.BytesIO, str]:
    """Download the image of a canvas (a `CanvasImage.as_dict`) before `deadline`.

    At the URL `canvas_url` gives. Returns the bytes (a stream named after the URL) and the URL.

    Raises
    ------
    SourceError
        If info.json or the image cannot be downloaded or read.
    """
    url = canvas_url(canvas, deadline)
    data = io.BytesIO(polite_fetch(url, deadline=deadline))
    data.name = url  # type: ignore[attr-defined]
    return data, url
