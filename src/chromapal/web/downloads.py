"""Palette downloads: every `chromapal.export` format and two swatch pictures, as HTTP bodies."""

from __future__ import annotations

import io
import re
from pathlib import PurePosixPath
from typing import Final

from PIL import Image

from ..export import FORMATS, dump_palette
from ..palette import Palette

#: Swatch pictures offered next to the palette file formats.
SWATCHES: Final = {"swatch.png": "image/png", "swatch.svg": "image/svg+xml"}
_MEDIA: Final = {"json": "application/json", "csv": "text/csv; charset=utf-8", "svg": "image/svg+xml"}


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
