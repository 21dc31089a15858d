"""The work of one batch image, in a worker process: download, decode, extract; never raise.

`process` returns a plain, picklable dict, so one bad image never stops a batch. URLs
are downloaded with retries on 429, 503 and connection errors (`chromapal.iiif.polite`)
inside the image's deadline; a IIIF canvas is downloaded through its Image API service
at the size a palette needs (`chromapal.iiif.fetch_canvas`).
"""

from __future__ import annotations

import io
import time
from collections.abc import Mapping
from typing import Any

from .errors import ImageTimeoutError, PaletteError
from .load import DRAFT_ABOVE, MAX_PIXELS, is_url, load_image
from .many import many_from_pixels
from .sources import file_stamp
from .workers import WorkerCrashedError

Record = dict[str, Any]
# Options that go to `load_image`; every other one goes to `extract_palette`.
LOAD_OPTIONS = frozenset({"frames", "max_pixels", "draft"})
#: Seconds a download may take when the batch has no per-image deadline.
NO_DEADLINE_DOWNLOAD = 60.0


def _download(source: str, canvas: Mapping[str, Any] | None, deadline: float) -> tuple[Any, str | None]:
    """The bytes to decode (a named stream) and the URL fetched; files are returned as they are."""
    from .iiif import fetch_canvas
    from .iiif.polite import polite_fetch

    if canvas is not None:
        data, url = fetch_canvas(dict(canvas), deadline)
        return data, url
    if not is_url(source):
        return source, None
    if deadline - time.monotonic() <= 0:
        raise ImageTimeoutError("no time left to download the image")
    stream = io.BytesIO(polite_fetch(source, deadline=deadline))
    stream.name = source  # type: ignore[attr-defined]
    return stream, source


def process(
    source: str,
    options: Mapping[str, Any],
    timeout: float | None = None,
    canvas: Mapping[str, Any] | None = None,
    ks: list[int | str] | None = None,
) -> Record:
    """Extract the palette of one source (or its palettes for several k); return a plain dict, never raise.

    Returns ``{"source", "ok": True, "size", "mtime_ns", "width", "height", "colors",
    "shares", "note", "k", "space", "delta_e", "load_ms", "extract_ms"}`` (and ``"iiif"``, the
    canvas with the image URL fetched, for a IIIF canvas) on success, or ``{"source",
    "ok": False, "size", "mtime_ns", "error", "reason"}`` where `error` is the
    exception's class name and `reason` its one-line message. ``delta_e`` is the
    palette's error, always measured (`chromapal.Palette.delta_e`: the mean CIEDE2000
    from every opaque pixel to its palette colour). `timeout` (seconds) bounds the
    download; the caller enforces it on the rest by killing the worker.

    With `ks` (a k range) the image is decoded and counted once and clustered once per
    k: the record holds ``"palettes"``, one dict per k in order (``"k", "colors",
    "shares", "note", "space", "delta_e", "extract_ms"``: the clustering time shared out
    evenly) instead of those keys, and `options`' own k is ignored.
    """
    size, mtime_ns = file_stamp(source)  # before reading: a later change is seen next run
    record: Record = {"source": source, "size": size, "mtime_ns": mtime_ns}
    try:
        t0 = time.perf_counter()
        deadline = time.monotonic() + (NO_DEADLINE_DOWNLOAD if timeout is None else timeout)
        source_or_data, url = _download(source, canvas, deadline)
        loaded = load_image(
            source_or_data,
            frames=options.get("frames", "first"),
            max_pixels=options.get("max_pixels", MAX_PIXELS),
            draft_above=DRAFT_ABOVE if options.get("draft", True) else None,
        )
        t1 = time.perf_counter()
        rest = {name: v for name, v in options.items() if name not in LOAD_OPTIONS and name != "k"}
        rest["delta_e"] = True  # the stored palette carries its error (issue 12)
        palettes = many_from_pixels(
            loaded.pixels, [options.get("k", 8)] if ks is None else ks, **rest, source=loaded.name
        )
        t2 = time.perf_counter()
    except PaletteError as exc:
        return {**record, "ok": False, "error": type(exc).__name__, "reason": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a worker must return, whatever the decoder does
        return {
            **record,
            "ok": False,
            "error": type(exc).__name__,
            "reason": f"{source}: {one_line(exc)}",
        }
    height, width = loaded.pixels.shape[:2]
    result = {**record, "ok": True, "width": width * loaded.scale, "height": height * loaded.scale,
              "load_ms": (t1 - t0) * 1000}
    each_ms = (t2 - t1) * 1000 / len(palettes)
    found = [
        {"colors": p.colors.tolist(), "shares": p.proportions.tolist(), "note": p.note, "k": p.k,
         "space": p.space, "delta_e": p.delta_e, "extract_ms": each_ms}
        for p in palettes
    ]
    if ks is None:
        result.update(found[0])
    else:
        result["palettes"] = found
    if canvas is not None:
        result["iiif"] = {**canvas, "image_url": url}
    return result


def one_thread_kernels() -> None:
    """Pool initializer: the compiled kernels run every part on the worker's own thread.

    When a batch runs a worker per core, the kernels' helper thread only competes with the
    other workers for the same cores (and costs its hand-offs); results are bit-identical.
    """
    try:
        from . import _kernels
    except ImportError:  # pragma: no cover - the NumPy fallback has no helper thread
        return
    _kernels.set_threads(1)


def one_line(exc: BaseException) -> str:
    """``ClassName: first line of the message``."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def failure_record(source: str, exc: BaseException) -> Record:
    """The record of an image whose worker was stopped at the deadline or died."""
    size, mtime_ns = file_stamp(source)
    if isinstance(exc, ImageTimeoutError):
        error, reason = "ImageTimeoutError", f"{source}: {exc}"
    elif isinstance(exc, WorkerCrashedError):
        error = "WorkerCrash"
        reason = f"{source}: the worker process died while this image was in progress ({exc})"
    else:
        error, reason = type(exc).__name__, f"{source}: {one_line(exc)}"
    return {
        "source": source,
        "ok": False,
        "size": size,
        "mtime_ns": mtime_ns,
        "error": error,
        "reason": reason,
    }


