"""The colour table of a large database saved to disk, so a new process need not rebuild it.

Building `chromapal.search_table.ColourTable` reads every stored colour (about 14 s of CPU
time for 8 million). For a database of at least `PERSIST_COLOURS` colours the table is
saved as ``.npy`` files in a folder of the user's cache (``$CHROMAPAL_CACHE_DIR``, else
``$XDG_CACHE_HOME/chromapal/search-tables``, else ``~/.cache/chromapal/search-tables``),
one folder per database path, and memory-mapped by the next process: loading costs
milliseconds and the pages are shared between processes.

A saved table is used only if its key matches: the database's last image row (id and
creation time) and the file's inode, size and modification time. Anything else, or any
file that does not read back as the arrays expected, is ignored and the table is rebuilt
(and saved again). At most `KEEP` databases' tables are kept; the least recently saved
are removed. Saving is best effort: a full disk or an unwritable cache only costs the
rebuild next time.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from .search_table import N_CELLS

#: Databases with fewer colours rebuild their table faster than it would load (< 1.5 s).
PERSIST_COLOURS = 1_000_000
#: Saved tables kept at most (one per database; each 41 bytes per colour).
KEEP = 3
ARRAYS = ("image_id", "rank", "lab", "share", "starts", "by_id", "offsets")


def cache_dir() -> Path:
    """The folder saved tables go in."""
    if os.environ.get("CHROMAPAL_CACHE_DIR"):
        return Path(os.environ["CHROMAPAL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "chromapal" / "search-tables"


def file_key(path: Path, key: tuple[int, float]) -> list[Any]:
    """What a saved table must match: the last image row and the database file's identity."""
    st = path.stat()
    return [key[0], key[1], st.st_ino, st.st_size, st.st_mtime_ns]


def _folder(path: Path) -> Path:
    return cache_dir() / hashlib.sha256(str(path).encode()).hexdigest()[:24]


def load(path: Path, key: tuple[int, float]) -> dict[str, np.ndarray] | None:
    """The arrays saved for database `path` with `key`, memory-mapped; None if absent or stale."""
    folder = _folder(path)
    try:
        saved = json.loads((folder / "key.json").read_text())
        if saved != {"path": str(path), "key": file_key(path, key)}:
            return None
        arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in ARRAYS}
    except (OSError, ValueError):
        return None
    return arrays if _consistent(arrays) else None


def _consistent(a: dict[str, np.ndarray]) -> bool:
    """Types, shapes and bounds a table's arrays must have (a damaged file fails them).

    Every index the search follows is checked to lie within the arrays it indexes, so a
    damaged or crafted file is rebuilt over rather than met as an IndexError mid-search.
    """
    n = len(a["share"])
    types = {"image_id": np.int32, "rank": np.uint8, "lab": np.float64, "share": np.float64,
             "starts": np.int64, "by_id": np.int32, "offsets": np.int64}
    if any(a[name].dtype != dtype for name, dtype in types.items()):
        return False
    starts, offsets = a["starts"], a["offsets"]
    if not (
        a["image_id"].shape == (n,) and a["rank"].shape == (n,) and a["lab"].shape == (3, n)
        and a["by_id"].shape == (n,) and starts.ndim == 1 and offsets.ndim == 1
        and len(starts) == N_CELLS + 1 and len(offsets) >= 1
        and starts[0] == 0 and starts[-1] == n and offsets[0] == 0 and offsets[-1] == n
    ):
        return False
    if np.any(np.diff(starts) < 0) or np.any(np.diff(offsets) < 0):
        return False
    return n == 0 or (
        0 <= a["by_id"].min() and a["by_id"].max() < n
        and 0 <= a["image_id"].min() and a["image_id"].max() < len(offsets) - 1
    )


def save(path: Path, key: tuple[int, float], arrays: dict[str, np.ndarray]) -> None:
    """Save a table's arrays for database `path` (best effort; errors are ignored)."""
    folder = _folder(path)
    tmp = folder.with_name(f"{folder.name}.tmp-{os.getpid()}")
    try:
        tmp.mkdir(parents=True, exist_ok=True)
        for name in ARRAYS:
            np.save(tmp / f"{name}.npy", np.asarray(arrays[name]), allow_pickle=False)
        (tmp / "key.json").write_text(json.dumps({"path": str(path), "key": file_key(path, key)}))
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        _evict(folder.parent)
    except OSError:
        shutil.rmtree(tmp, ignore_errors=True)


def _evict(parent: Path) -> None:
    """Remove all but the `KEEP` most recently saved tables (and leftovers over an hour old)."""
    folders = sorted(
        (p for p in parent.iterdir() if p.is_dir() and ".tmp-" not in p.name),
        key=lambda p: p.stat().st_mtime,
        reverse=True,
    )
    for old in folders[KEEP:]:
        shutil.rmtree(old, ignore_errors=True)
    for left in parent.glob("*.tmp-*"):
        if time.time() - left.stat().st_mtime > 3600:
            shutil.rmtree(left, ignore_errors=True)
