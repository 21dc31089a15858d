"""Search latency on a million stored palettes (synthetic: 8 random sRGB colours each).

    .venv/bin/python benchmarks/bench_search.py [--palettes 1000000] [--db FILE]
    .venv/bin/python benchmarks/bench_search.py --check-box 1500 [--seed 4]

The database is built once (a few minutes) and reused. Each query is timed on its first
run and as the median of the 5 runs after it; the number of images found is printed too.
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
from chromapal.search import search, search_box
from chromapal.store import PaletteStore, bucket_of, options_key

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
            db.conn.execute("COMMIT")
            print(f"  {start + m:,} palettes stored ({time.perf_counter() - t0:.0f} s)", flush=True)


def check_box(queries: int, seed: int = 4) -> None:
    """Count sRGB colours within ΔE00 of random queries that fall outside `search_box`."""
    rng = np.random.default_rng(seed)
    misses = 0
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
    print(f"search_box check: {queries} queries, {misses} with a colour outside the box")


def main() -> None:
    """Build the database if needed, then time a grid of queries and print a table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--palettes", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=Path("/tmp/chromapal-bench-search.sqlite"))
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
        print(f"\nslowest median: {worst:.1f} ms")


if __name__ == "__main__":
    main()
