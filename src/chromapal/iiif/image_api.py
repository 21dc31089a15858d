"""IIIF Image API 2.x and 3.0: read ``info.json`` and ask for no more pixels than a palette needs.

A palette is computed from about a megapixel (JPEG images are decoded in draft mode down
to `chromapal.load.DRAFT_ABOVE` pixels), so the image is asked for with its longer side
at most `TARGET_SIDE` (1024) pixels, and never above the server's ``maxWidth``,
``maxHeight`` and ``maxArea``:

* level 1 and 2 servers (and 2.x servers that name no level): size ``w,`` (required
  from level 1 in both versions), or ``full`` (2.x) / ``max`` (3.0) when the whole
  image is already small enough;
* level 0 servers, which can only serve the sizes they list: the smallest listed size
  whose longer side reaches `TARGET_SIDE`, else the largest listed one; with no list,
  the whole image (``full`` / ``max``).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Final

from ..errors import SourceError

#: Longer side, in pixels, asked for at most.
TARGET_SIDE: Final = 1024


@dataclass(frozen=True)
class ImageInfo:
    """What an ``info.json`` says about one image."""

    id: str
    version: int  # 2 or 3
    width: int
    height: int
    level: int
    max_width: int | None = None
    max_height: int | None = None
    max_area: int | None = None
    sizes: tuple[tuple[int, int], ...] = ()


def parse_info(data: bytes, where: str) -> ImageInfo:
    """Read an ``info.json`` body.

    Raises
    ------
    SourceError
        If it is not JSON or lacks the id, width or height.
    """
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise SourceError(f"{where}: info.json is not JSON ({exc})") from None
    if not isinstance(doc, dict):
        raise SourceError(f"{where}: info.json is not a JSON object")
    ident = doc.get("id") or doc.get("@id")
    context = json.dumps(doc.get("@context", ""))
    version = 3 if "image/3" in context or doc.get("type") == "ImageService3" else 2
    try:
        width, height = int(doc["width"]), int(doc["height"])
    except (KeyError, TypeError, ValueError):
        raise SourceError(f"{where}: info.json has no width and height") from None
    if not isinstance(ident, str) or width <= 0 or height <= 0:
        raise SourceError(f"{where}: info.json has no id or a size below 1 pixel")
    return ImageInfo(
        id=ident.rstrip("/"),
        version=version,
        width=width,
        height=height,
        level=_level(doc),
        max_width=_positive(doc.get("maxWidth")),
        max_height=_positive(doc.get("maxHeight")),
        max_area=_positive(doc.get("maxArea")),
        sizes=tuple(
            (int(s["width"]), int(s["height"]))
            for s in doc.get("sizes") or []
            if isinstance(s, dict) and _positive(s.get("width")) and _positive(s.get("height"))
        ),
    )


def _positive(value: Any) -> int | None:
    return int(value) if isinstance(value, (int, float)) and value > 0 else None


def _level(doc: dict[str, Any]) -> int:
    """Compliance level from ``profile`` ('level1', a URI ending in level1.json, or a list)."""
    profile = doc.get("profile")
    first = profile[0] if isinstance(profile, list) and profile else profile
    text = first if isinstance(first, str) else ""
    for level in (0, 1, 2):
        if text.endswith(f"level{level}") or text.endswith(f"level{level}.json"):
            return level
    return 1  # unknown: 'w,' is the one size every level above 0 serves


def size_for(info: ImageInfo, target: int = TARGET_SIDE) -> tuple[int, int]:
    """Width and height to ask for: longer side <= `target`, within the server's maxima."""
    w, h = info.width, info.height
    scale = min(1.0, target / max(w, h))
    mw = info.max_width
    mh = info.max_height or mw  # maxHeight defaults to maxWidth
    if mw:
        scale = min(scale, mw / w)
    if mh:
        scale = min(scale, mh / h)
    if info.max_area:
        scale = min(scale, math.sqrt(info.max_area / (w * h)))
    return max(1, math.floor(w * scale)), max(1, math.floor(h * scale))


def image_request(info: ImageInfo, target: int = TARGET_SIDE) -> str:
    """The image URL for a palette: see the module docstring for how the size is chosen."""
    full = "max" if info.version == 3 else "full"
    if info.level == 0:
        if info.sizes:
            ordered = sorted(info.sizes, key=lambda s: max(s))
            w, h = next((s for s in ordered if max(s) >= target), ordered[-1])
            size = f"{w},{h}" if info.version == 3 else f"{w},"
        else:
            size = full
    else:
        w, h = size_for(info, target)
        size = full if (w, h) == (info.width, info.height) else f"{w},"
    return f"{info.id}/full/{size}/0/default.jpg"
