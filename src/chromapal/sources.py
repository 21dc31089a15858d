"""The images of a batch: command-line inputs expanded into file paths and URLs.

Inputs are URLs (IIIF manifests and collections among them, see
`expand_batch_inputs`), files, folders (searched recursively for image extensions),
glob patterns and ``@list.txt`` files; `file_stamp` gives the size and modification time
that, with the options, decide whether an image is already done.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from .errors import PaletteError
from .load import is_url

#: File extensions picked up when a folder is given (case-insensitive).
IMAGE_EXTENSIONS: Final = frozenset(
    {
        ".png",
        ".jpg",
        ".jpeg",
        ".jpe",
        ".gif",
        ".webp",
        ".bmp",
        ".tif",
        ".tiff",
        ".tga",
        ".ppm",
        ".pgm",
        ".pbm",
        ".pnm",
        ".ico",
        ".jp2",
        ".j2k",
        ".jpx",
    }
)


def expand_inputs(inputs: Iterable[str]) -> list[str]:
    """Expand command-line INPUTS into sources: absolute file paths and http(s) URLs.

    Each input is a URL; a file; a folder (searched recursively for `IMAGE_EXTENSIONS`);
    a glob pattern (``**`` recurses); or ``@list.txt``, a text file of paths and URLs,
    one per line, where blank lines and lines starting with ``#`` are skipped and
    relative paths are relative to the list's folder. Paths that do not exist are kept,
    so they are recorded as failures. Duplicates are dropped, order is kept.

    Raises
    ------
    PaletteError
        If a ``@list`` file cannot be read.
    """
    seen: dict[str, None] = {}
    for item in inputs:
        for source in _expand_one(item):
            seen.setdefault(source, None)
    return list(seen)


def _expand_one(item: str) -> Iterator[str]:
    if is_url(item):
        yield item
    elif item.startswith("@"):
        yield from _read_list(Path(item[1:]))
    elif os.path.isdir(item):
        yield from _image_files(Path(item))
    elif not os.path.exists(item) and glob.has_magic(item):
        for match in sorted(glob.glob(item, recursive=True)):
            if os.path.isdir(match):
                yield from _image_files(Path(match))
            elif os.path.splitext(match)[1].lower() in IMAGE_EXTENSIONS:
                yield os.path.abspath(match)
    else:
        yield os.path.abspath(item)


def _image_files(folder: Path) -> Iterator[str]:
    """Image files under `folder`, recursively, in sorted order."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in sorted(files):
            if os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS:
                yield os.path.abspath(os.path.join(root, name))


def _read_list(path: Path) -> Iterator[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PaletteError(f"@{path}: cannot read the list of inputs ({exc})") from exc
    for line in lines:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if is_url(line):
            yield line
        else:
            yield os.path.abspath(path.parent / os.path.expanduser(line))


def file_stamp(source: str) -> tuple[int | None, int | None]:
    """Return (size in bytes, mtime in ns) of a file; (None, None) for URLs and missing files."""
    if is_url(source):
        return None, None
    try:
        st = os.stat(source)
    except OSError:
        return None, None
    return st.st_size, st.st_mtime_ns




def host_of(source: str, canvas: Mapping[str, Any] | None = None) -> str | None:
    """The host a source is downloaded from (a canvas: its service's or image's); None for files."""
    url = (canvas.get("service") or canvas.get("image_url")) if canvas else source
    if not url or not is_url(url):
        return None
    return urlsplit(url).netloc.lower() or None


@dataclass
class BatchInputs:
    """The sources of a batch, the IIIF canvases among them, and inputs that failed outright."""

    sources: list[str] = field(default_factory=list)
    canvases: dict[str, dict[str, Any]] = field(default_factory=dict)  # source -> canvas
    failures: list[dict[str, str]] = field(default_factory=list)  # {"source", "error", "reason"}


def expand_batch_inputs(inputs: Iterable[str]) -> BatchInputs:
    """`expand_inputs`, with IIIF manifests and collections expanded into their canvases.

    Each URL that is not plainly an image (by its extension) is read once: a IIIF
    manifest or collection is walked (`chromapal.iiif.expand_url`) and each canvas
    becomes a source (its Image API service id, or its image URL); anything else stays
    an image URL. A manifest or collection that cannot be read, and bounds hit while
    walking, become failures; the rest of the batch goes on.

    Raises
    ------
    PaletteError
        If a ``@list`` file cannot be read.
    """
    from .iiif import expand_url

    out = BatchInputs()
    seen: set[str] = set()
    for source in expand_inputs(inputs):
        if not is_url(source):
            _add(out, seen, source)
            continue
        try:
            found = expand_url(source)
        except PaletteError as exc:
            out.failures.append({"source": source, "error": type(exc).__name__, "reason": str(exc)})
            continue
        if found is None:
            _add(out, seen, source)
            continue
        for url, reason in found.errors:
            out.failures.append({"source": url, "error": "IIIFError", "reason": reason})
        for canvas in found.canvases:
            if _add(out, seen, canvas.source):
                out.canvases[canvas.source] = canvas.as_dict()
    return out


def _add(out: BatchInputs, seen: set[str], source: str) -> bool:
    if source in seen:
        return False
    seen.add(source)
    out.sources.append(source)
    return True
