"""Every stored palette colour in memory, for searches that read many palettes.

Several-colour and similar-palette searches read the colours in CIELAB boxes at several
radii and the whole palettes of thousands of candidates. Read through SQLite that costs
up to seconds on a million palettes; from NumPy arrays it costs milliseconds. The
`ColourTable` holds, for every row of ``colors``: image id, rank, CIELAB (float64, the
stored values, so distances are exactly those computed from the database) and share,
sorted by the search cell (`chromapal.store_schema.bucket_of`), with

- ``starts``: where each cell's rows begin, so a box is a few dozen slices;
- ``by_id`` and ``offsets``: the rows of image ``i`` in rank order are
  ``by_id[offsets[i]:offsets[i + 1]]``.

Cost: 41 bytes per stored colour (8 million colours: 337 MB) and one read of the
``colors`` table (about 14 s of CPU time for 8 million colours) on the first search of a
process; later searches reuse it. Tables of large databases are saved for later processes
(`chromapal.search_cache`). A database of more than `MAX_COLOURS` colours is refused
(`TableTooLarge`, one message) before the memory is spent.

Keeping it current
------------------
A table is kept per database path and checked before each search against the last
image row (its id and creation time): a batch adds palettes with larger ids, and a
palette replaced in place of the last one gets a new creation time. New palettes (ids
above the table's last one) are read and merged; anything else rebuilds the table. A
palette deleted without anything added after it (a failure replacing it) is noticed
when a search result is no longer in ``images``: `StaleTable` is raised and the search
rebuilds the table and runs again (`with_table`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np

from ._types import FloatArray, IntArray
from .errors import PaletteError
from .store import PaletteStore, bucket_number, cell_index
from .store_schema import bucket_of

#: Search cells: L index 0-25, a and b indices 0-63 (see `chromapal.store_schema.bucket_of`).
N_CELLS = 26 * 64 * 64
#: Rows read from SQLite per fetch while building.
_FETCH = 500_000
#: Stored colours the table holds at most (41 bytes each: about 1.2 GB); a larger
#: database is refused with `TableTooLarge` rather than filling the memory.
MAX_COLOURS = 30_000_000

if TYPE_CHECKING:
    from .search import RayProfile, Slabs

T = TypeVar("T")


class TableTooLarge(PaletteError, ValueError):
    """The database holds more colours than `MAX_COLOURS`."""


class StaleTable(Exception):
    """A search met an image id that is no longer stored: the table must be rebuilt."""


@dataclass
class ColourTable:
    """Every stored colour, sorted by search cell (see the module docstring)."""

    image_id: IntArray  # int32, per row
    rank: IntArray  # uint8
    lab: FloatArray  # (3, n) float64: L, a, b rows
    share: FloatArray  # float64
    starts: IntArray  # (N_CELLS + 1,) first row of each cell
    by_id: IntArray  # int32: rows in (image id, rank) order
    offsets: IntArray  # (last id + 2,) start of each image id in by_id
    key: tuple[int, float]  # (last image id, its creation time)

    @classmethod
    def from_rows(cls, rows: FloatArray, key: tuple[int, float]) -> ColourTable:
        """Build from ``(image_id, rank, L, a, b, share)`` rows (any order)."""
        bucket = bucket_of(rows[:, 2:5])
        order = np.argsort(bucket, kind="stable")
        image_id = rows[order, 0].astype(np.int32)
        rank = rows[order, 1].astype(np.uint8)
        by_id = np.lexsort((rank, image_id)).astype(np.int32)
        last = int(image_id.max()) if len(image_id) else 0
        return cls(
            image_id=image_id,
            rank=rank,
            lab=np.ascontiguousarray(rows[order, 2:5].T),
            share=rows[order, 5].copy(),
            starts=np.searchsorted(bucket[order], np.arange(N_CELLS + 1)).astype(np.int64),
            by_id=by_id,
            offsets=np.searchsorted(image_id[by_id], np.arange(last + 2)).astype(np.int64),
            key=key,
        )

    def rows(self) -> FloatArray:
        """The table as ``(image_id, rank, L, a, b, share)`` rows in id order (for merging)."""
        p = self.by_id
        return np.column_stack([self.image_id[p], self.rank[p], self.lab[:, p].T, self.share[p]])

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays."""
        return sum(
            a.nbytes
            for a in (self.image_id, self.rank, self.lab, self.share, self.starts, self.by_id, self.offsets)
        )

    def box(
        self,
        lo: FloatArray,
        hi: FloatArray,
        min_share: float = 0.0,
        slabs: Slabs | None = None,
        among: np.ndarray | None = None,
    ) -> IntArray:
        """Rows whose colour lies in the box [`lo`, `hi`] (and `slabs`), with share >= `min_share`.

        `among`, a mask indexed by image id, keeps only the rows of the images it marks.
        """
        first, end = self._columns(lo, hi)
        pos = _ranges(self.starts[first], self.starts[end])
        if among is not None:
            pos = pos[among[self.image_id[pos]]]
        lab = self.lab[:, pos]
        keep = (
            (lab[0] >= lo[0]) & (lab[0] <= hi[0]) & (lab[1] >= lo[1]) & (lab[1] <= hi[1])
            & (lab[2] >= lo[2]) & (lab[2] <= hi[2])
        )
        if min_share > 0:
            keep &= self.share[pos] >= min_share
        pos = pos[keep]
        if slabs is not None:
            pos = pos[slabs.holds(self.lab[:, pos])]
        return pos

    def box_size(self, lo: FloatArray, hi: FloatArray) -> int:
        """Rows in the search cells the box [`lo`, `hi`] touches (an upper bound of `box`'s)."""
        first, end = self._columns(lo, hi)
        return int((self.starts[end] - self.starts[first]).sum())

    @staticmethod
    def _columns(lo: FloatArray, hi: FloatArray) -> tuple[IntArray, IntArray]:
        """First and past-last cell numbers of each (L, a) column of cells the box touches."""
        ib_lo, ib_hi = cell_index(lo[2], 2), cell_index(hi[2], 2)
        cols = [
            (bucket_number(il, ia, ib_lo), bucket_number(il, ia, ib_hi) + 1)
            for il in range(cell_index(lo[0], 0), cell_index(hi[0], 0) + 1)
            for ia in range(cell_index(lo[1], 1), cell_index(hi[1], 1) + 1)
        ]
        first, end = np.array(cols, dtype=np.int64).T
        return first, end

    def palettes(self, ids: IntArray) -> IntArray:
        """Rows of the palettes of `ids`, in (given id order, rank) order; unknown ids give none."""
        ids = np.asarray(ids, dtype=np.int64)
        ids = ids[(ids >= 0) & (ids < len(self.offsets) - 1)]
        return self.by_id[_ranges(self.offsets[ids], self.offsets[ids + 1])]


def _ranges(first: IntArray, end: IntArray) -> IntArray:
    """Concatenation of ``arange(first[i], end[i])`` for every i, without a Python loop."""
    lengths = end - first
    keep = lengths > 0
    first, lengths = first[keep], lengths[keep]
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    step = np.ones(total, dtype=np.int64)
    heads = np.cumsum(lengths)[:-1]
    step[0] = first[0]
    step[heads] = first[1:] - (first[:-1] + lengths[:-1] - 1)
    return np.cumsum(step)


_LOCK = threading.Lock()
_TABLES: dict[str, ColourTable] = {}


def _key(store: PaletteStore) -> tuple[int, float]:
    row = store.conn.execute("SELECT id, created FROM images ORDER BY id DESC LIMIT 1").fetchone()
    return (0, 0.0) if row is None else (int(row[0]), float(row[1]))


def _read(store: PaletteStore, after: int = 0) -> FloatArray:
    cur = store.conn.execute(
        "SELECT image_id, rank, lab_l, lab_a, lab_b, share FROM colors WHERE image_id > ?", (after,)
    )
    parts = [np.zeros((0, 6))]
    count = 0
    while rows := cur.fetchmany(min(_FETCH, MAX_COLOURS + 1)):
        count += len(rows)
        if count > MAX_COLOURS:
            raise TableTooLarge(
                f"{store.path}: more than {MAX_COLOURS:,} stored colours, more than several-colour "
                f"and similar-palette search hold in memory (about {MAX_COLOURS * 41 / 1e9:.1f} GB); "
                "search one colour at a time, or keep fewer palettes per database"
            )
        parts.append(np.array(rows, dtype=np.float64))
    return np.concatenate(parts)


def table(store: PaletteStore) -> ColourTable:
    """The colour table of `store`'s database, built, extended or rebuilt as needed."""
    name = str(store.path.resolve())
    key = _key(store)
    with _LOCK:
        old = _TABLES.get(name)
        if old is not None and old.key == key:
            return old
        if old is not None and key[0] > old.key[0] and _key_row(store, old.key):
            new = ColourTable.from_rows(np.concatenate([old.rows(), _read(store, old.key[0])]), key)
            _save(Path(name), new)
        else:
            _TABLES.pop(name, None)  # free the old arrays before building
            new = _load(Path(name), key)
            if new is None:
                new = ColourTable.from_rows(_read(store), key)
                _save(Path(name), new)
        _TABLES[name] = new
        return new


def _load(path: Path, key: tuple[int, float]) -> ColourTable | None:
    """The table saved for `path` by an earlier process (`chromapal.search_cache`), if current."""
    from . import search_cache

    arrays = search_cache.load(path, key)
    return None if arrays is None else ColourTable(**arrays, key=key)


def _save(path: Path, tab: ColourTable) -> None:
    """Save a large table for later processes (best effort)."""
    from . import search_cache

    if len(tab.share) >= search_cache.PERSIST_COLOURS:
        search_cache.save(path, tab.key, {name: getattr(tab, name) for name in search_cache.ARRAYS})


def _key_row(store: PaletteStore, key: tuple[int, float]) -> bool:
    """Whether the image row `key` describes is still stored unchanged."""
    row = store.conn.execute("SELECT created FROM images WHERE id = ?", (key[0],)).fetchone()
    return row is not None and float(row[0]) == key[1]


def forget(store: PaletteStore) -> None:
    """Drop the cached table of `store`'s database."""
    with _LOCK:
        _TABLES.pop(str(store.path.resolve()), None)


def with_table(store: PaletteStore, run: Callable[[ColourTable], T]) -> T:
    """Run a search on the table; rebuild it once if the search finds it stale."""
    try:
        return run(table(store))
    except StaleTable:
        forget(store)
        return run(table(store))


def closest(
    tab: ColourTable,
    query: FloatArray,
    profile: RayProfile,
    radius: float,
    min_share: float,
    memo: dict[str, IntArray | FloatArray] | None = None,
    among: np.ndarray | None = None,
) -> tuple[IntArray, FloatArray, FloatArray, IntArray]:
    """Per image, its colour closest to `query` within `radius`.

    The rows read are those in `profile`'s box and slabs for `radius`, of the images
    whose id is True in `among` if given (a mask indexed by image id).

    Returns ``(ids, delta_e, share, rank)`` with ids ascending; ties in ΔE go to the
    larger share, as in `chromapal.search`. `memo` (a dict, empty at first) keeps the
    ΔE of the rows already read, for calls with growing boxes of the same query.
    """
    from .colorspace import ciede2000

    pos = tab.box(*profile.box(radius), min_share, profile.slabs(radius), among)  # ascending
    if memo and len(memo["pos"]):
        seen, seen_de = memo["pos"], memo["de"]
        at = np.minimum(np.searchsorted(seen, pos), len(seen) - 1)
        known = seen[at] == pos
        de = np.empty(len(pos))
        de[known] = seen_de[at[known]]
        de[~known] = ciede2000(query, tab.lab[:, pos[~known]].T)
    else:
        de = ciede2000(query, tab.lab[:, pos].T)
    if memo is not None:
        memo["pos"], memo["de"] = pos, de
    keep = de <= radius
    pos, de = pos[keep], de[keep]
    ids, share = tab.image_id[pos], tab.share[pos]
    order = np.lexsort((-share, de, ids))
    ids, de, pos = ids[order], de[order], pos[order]
    first = np.ones(len(ids), dtype=bool)
    first[1:] = ids[1:] != ids[:-1]
    pos = pos[first]
    return ids[first].astype(np.int64), de[first], tab.share[pos], tab.rank[pos].astype(np.int64)
