"""Search latency on a million stored palettes (synthetic: 8 random sRGB colours each).

    .venv/bin/python benchmarks/bench_search.py [--palettes 1000000] [--db FILE]
    .venv/bin/python benchmarks/bench_search.py --check-box 1500 [--seed 4]

The database is built once (a few minutes) and reused. Each query is timed on its first
run and as the median of the 5 runs after it; the number of images found is printed too.
Query kinds: one colour (hex and CSS name), filtered by k, several colours with minimum
shares, named-colour facets alone and with a colour, and similar palettes (``--like``,
the earth mover's distance of `chromapal.search_like`) to stored and random palettes.
Several colours and ``--like`` read an in-memory colour table
(`chromapal.search_table`, saved for later processes by `chromapal.search_cache`): its size,
build time and load time are printed before those queries, whose first-run times do not
include it. Times are wall-clock; the median CPU time is printed too
(the machine may be shared).
Random palettes of random colours are a hard case for ``--like``: the nearest palette is
far (ΔE ~20), so the search widens its radius before it can prove its answer.
``--check-box`` instead checks the search box empirically: for random
query colours and 6,000 nearby sRGB colours each, every colour within the radius must lie
inside the box.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from chromapal.colorspace import ciede2000, lab_from_srgb, oklab_from_srgb
from chromapal.facets import FACET_NAMES, facet_of
from chromapal.search import RayProfile, search, search_box
from chromapal.search_like import search_like
from chromapal.search_multi import search_colors
from chromapal.search_table import forget, table
from chromapal.store import PaletteFilter, PaletteStore, bucket_of, options_key

QUERIES = ["#c1a4a9", "#808080", "#2050c0", "#e03020", "#f0e0c0", "#101010", "#40a040", "#3010f0"]
COLORS_PER_PALETTE = 8
CHUNK = 50_000


def build(path: Path, n: int) -> None:
    """Fill `path` with `n` synthetic palettes (one transaction per chunk, for speed)."""
    rng = np.random.default_rng(0)
    key = options_key({"k": COLORS_PER_PALETTE, "space": "oklab"})
    with PaletteStore(path) as db:
        db.conn.execute("PRAGMA cache_size = -1000000")
        t0 = time.perf_counter()
        for start in range(0, n, CHUNK):
            m = min(CHUNK, n - start)
            rgb = rng.integers(0, 256, (m * COLORS_PER_PALETTE, 3)).astype(np.uint8)
            shares = np.sort(rng.dirichlet(np.ones(COLORS_PER_PALETTE), m), axis=1)[
                :, ::-1
            ].reshape(-1)
            ok, lab, bucket = (
                oklab_from_srgb(rgb),
                lab_from_srgb(rgb),
                bucket_of(lab_from_srgb(rgb)),
            )
            ids = np.repeat(np.arange(start + 1, start + m + 1), COLORS_PER_PALETTE)
            ranks = np.tile(np.arange(1, COLORS_PER_PALETTE + 1), m)
            hexes = [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb.tolist()]
            db.conn.execute("BEGIN")
            db.conn.executemany(
                "INSERT INTO images (id, source, size, mtime_ns, options, k, space, n_colors, "
                "created)"
                " "
                "VALUES (?, ?, 0, 0, ?, ?, 'oklab', ?, 0)",
                [
                    (i, f"synthetic/{i:07d}.png", key, COLORS_PER_PALETTE, COLORS_PER_PALETTE)
                    for i in range(start + 1, start + m + 1)
                ],
            )
            db.conn.executemany(
                "INSERT INTO colors VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                zip(
                    ids.tolist(),
                    ranks.tolist(),
                    hexes,
                    *rgb.T.tolist(),
                    *ok.T.tolist(),
                    *lab.T.tolist(),
                    shares.tolist(),
                    bucket.tolist(),
                    strict=True,
                ),
            )
            names = np.array([FACET_NAMES.index(n) for n in facet_of(rgb)]).reshape(m, -1)
            totals = np.zeros((m, len(FACET_NAMES)))
            np.add.at(totals, (np.repeat(np.arange(m), COLORS_PER_PALETTE), names.reshape(-1)), shares)
            rows, cols = np.nonzero(totals)
            db.conn.executemany(
                "INSERT INTO facets (image_id, name, share) VALUES (?, ?, ?)",
                zip((rows + start + 1).tolist(), [FACET_NAMES[c] for c in cols.tolist()],
                    totals[rows, cols].tolist(), strict=True),
            )
            db.conn.execute("COMMIT")
            print(f"  {start + m:,} palettes stored ({time.perf_counter() - t0:.0f} s)", flush=True)


def check_box(queries: int, seed: int = 4) -> None:
    """Count sRGB colours within ΔE00 of random queries that fall outside `search_box`."""
    rng = np.random.default_rng(seed)
    misses = slab_misses = 0
    for i in range(queries):
        radius = float(rng.choice([1, 2, 5, 10]))
        q = rng.integers(0, 256, 3)
        if i % 3 == 0:  # a third saturated blues and purples, where the region is stretched
            q = np.array([rng.integers(0, 120), rng.integers(0, 120), rng.integers(150, 256)])
        spread = int(min(255, 12 * radius + 20))
        cand = np.clip(q + rng.integers(-spread, spread + 1, (6000, 3)), 0, 255).astype(np.uint8)
        lq, lc = lab_from_srgb(q.astype(np.uint8)), lab_from_srgb(cand)
        lo, hi = search_box(lq, radius)
        near = lc[ciede2000(lq, lc) <= radius]
        misses += int(np.any(~np.all((near >= lo) & (near <= hi), axis=1)))
        slabs = RayProfile(lq, radius).slabs(radius)
        slab_misses += int(slabs is not None and not slabs.holds(near.T).all())
    print(f"search_box check: {queries} queries, {misses} with a colour outside the box, "
          f"{slab_misses} outside the slabs")


def main() -> None:
    """Build the database if needed, then time a grid of queries and print a table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--palettes", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/chromapal-bench-search-v2.sqlite"))
    parser.add_argument(
        "--check-box",
        type=int,
        default=0,
        metavar="QUERIES",
        help="only check search_box on this many random queries",
    )
    parser.add_argument("--seed", type=int, default=4, help="seed of --check-box")
    args = parser.parse_args()
    if args.check_box:
        check_box(args.check_box, args.seed)
        return
    if not args.db.exists():
        print(f"building {args.db} with {args.palettes:,} palettes ...", flush=True)
        build(args.db, args.palettes)
    with PaletteStore(args.db, create=False) as db:
        n_images, n_colors = db.count("images"), db.count("colors")
        print(
            f"\n{n_images:,} palettes, {n_colors:,} colours in {args.db} "
            f"({args.db.stat().st_size / 1e6:,.0f} MB)\n"
        )
        print(
            f"{'query':<9} {'ΔE':>4} {'min share':>9} {'limit':>5} {'found':>5} "
            f"{'first ms':>9} {'median ms':>9}"
        )
        worst = 0.0
        for max_de, min_share, limit in (
            (10, 0.0, 20),
            (10, 0.05, 20),
            (5, 0.0, 20),
            (10, 0.0, 200),
        ):
            for color in QUERIES:
                times = []
                for _ in range(6):
                    t0 = time.perf_counter()
                    found = search(db, color, max_delta_e=max_de, min_share=min_share, limit=limit)
                    times.append((time.perf_counter() - t0) * 1000)
                worst = max(worst, statistics.median(times[1:]))
                print(
                    f"{color:<9} {max_de:>4} {min_share:>9} {limit:>5} {len(found):>5} "
                    f"{times[0]:>9.1f} "
                    f"{statistics.median(times[1:]):>9.1f}"
                )
        print(f"\nslowest median (one colour): {worst:.1f} ms\n")
        worst = max(worst, other_queries(db))
        print(f"\nslowest median of every kind: {worst:.1f} ms")


def timed(run) -> tuple[float, float, float, int]:
    """(first ms, median ms of the next 5, median CPU ms of the next 5, results) of a query."""
    times, cpu, found = [], [], []
    for _ in range(6):
        t0, c0 = time.perf_counter(), time.process_time()
        found = run()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    return times[0], statistics.median(times[1:]), statistics.median(cpu[1:]), len(found)


def time_table(db: PaletteStore) -> None:
    """Build the colour table of several-colour and --like search and print its cost.

    Times the build from SQLite, then `table` in a fresh state, as a new process gets it:
    memory-mapped from the table saved by `chromapal.search_cache` if there is one.
    """
    from chromapal.search_table import ColourTable, _key, _read

    t0, c0 = time.perf_counter(), time.process_time()
    tab = ColourTable.from_rows(_read(db), _key(db))
    print(
        f"colour table: {len(tab.share):,} colours, {tab.nbytes / 1e6:,.0f} MB, built from SQLite in "
        f"{time.perf_counter() - t0:.1f} s ({time.process_time() - c0:.1f} s CPU)"
    )
    del tab
    forget(db)
    t0, c0 = time.perf_counter(), time.process_time()
    tab = table(db)
    how = "memory-mapped from the saved table" if isinstance(tab.share, np.memmap) else "built (and saved)"
    print(
        f"a new process's first several-colour or --like query: table {how} in "
        f"{time.perf_counter() - t0:.2f} s ({time.process_time() - c0:.2f} s CPU); "
        "the times below do not include it\n"
    )


def other_queries(db: PaletteStore) -> float:
    """Time every other query kind; return the slowest median."""
    rng = np.random.default_rng(7)
    stored = []
    for image_id in rng.integers(1, db.count("images") + 1, 3).tolist():
        rows = db.conn.execute(
            "SELECT r, g, b, share FROM colors WHERE image_id = ? ORDER BY rank", (image_id,)
        ).fetchall()
        stored.append(([r[:3] for r in rows], [r[3] for r in rows]))
    kinds = [
        ("colour 'red' (CSS name)", lambda: search(db, "red")),
        ("colour, -k 8 (all match)", lambda: search(db, "#c1a4a9", where=PaletteFilter(k=(8,)))),
        ("colour, -k 5 (none match)", lambda: search(db, "#c1a4a9", where=PaletteFilter(k=(5,)))),
        ("2 colours", lambda: search_colors(db, ["#c1a4a9", "#1565a1"])),
        ("2 colours, 10% each", lambda: search_colors(db, ["#c1a4a9:10%", "#1565a1:10%"])),
        ("3 colours", lambda: search_colors(db, ["#e03020", "#f0e0c0", "#101010"])),
        ("facet blue >= 30%", lambda: search_colors(db, [], facets={"blue": 0.3})),
        ("facets blue 20% + white 20%", lambda: search_colors(db, [], facets={"blue": 0.2, "white": 0.2})),
        ("colour + facet", lambda: search_colors(db, ["#e03020"], facets={"blue": 0.2})),
    ]
    for i, (rgb, shares) in enumerate(stored):
        kinds.append((f"like stored palette {i + 1}", lambda rgb=rgb, shares=shares: search_like(db, rgb, shares)))
    two = ([(200, 40, 40), (240, 230, 210)], [0.6, 0.4])
    kinds.append(("like 2-colour palette", lambda: search_like(db, *two)))
    worst = 0.0
    time_table(db)
    print(f"{'query':<32} {'found':>5} {'first ms':>9} {'median ms':>9} {'median CPU ms':>13}")
    for name, run in kinds:
        first, median, cpu, n = timed(run)
        worst = max(worst, median)
        print(f"{name:<32} {n:>5} {first:>9.1f} {median:>9.1f} {cpu:>13.1f}", flush=True)
    return worst


if __name__ == "__main__":
    main()
