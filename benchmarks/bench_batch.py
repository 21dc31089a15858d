"""Batch throughput: images per second with 1 worker and with all cores, on the Kodak images.

    .venv/bin/python benchmarks/bench_batch.py [--images DIR] [--copies 10] [-k 8]

The 24 Kodak PNGs are linked `--copies` times into a temporary folder (24 x 10 = 240 files),
then `run_batch` stores them into a fresh database once per worker count. Prints a table:
for each worker count, the whole batch, the same files only decoded (`load_image` with
the batch's options, in the same `WorkerPool`), and decoded and extracted without the
database (`chromapal.batch_worker.process`), with the batch's rate as a fraction of each.
Then the writer alone: palettes per second `PaletteStore.add_palette` stores (one
transaction each, facets included) from synthetic 8-colour records.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from chromapal.batch import BatchOptions, expand_inputs, run_batch
from chromapal.batch_worker import process
from chromapal.load import DRAFT_ABOVE, load_image
from chromapal.store import PaletteStore
from chromapal.workers import WorkerPool

DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images" / "kodak"


def decode_only(source: str) -> int:
    """Decode one file as a batch worker does (draft mode on), return its pixel count."""
    loaded = load_image(source, draft_above=DRAFT_ABOVE)
    return int(loaded.pixels.shape[0] * loaded.pixels.shape[1])


def pool_rate(workers: int, func, sources: list[str], *args) -> float:
    """Images per second of `func(source, *args)` over `sources` on a `WorkerPool`."""
    from concurrent.futures import FIRST_COMPLETED, wait

    todo = iter(sources)
    pending = set()
    t0 = time.perf_counter()
    with WorkerPool(workers) as pool:
        while True:
            while len(pending) < workers and (source := next(todo, None)) is not None:
                pending.add(pool.submit(func, source, *args, timeout=60))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
    return len(sources) / (time.perf_counter() - t0)


def writer_rate(path: Path, n: int = 5000) -> float:
    """Palettes per second stored by `PaletteStore.add_palette` (8 colours each)."""
    rng = np.random.default_rng(0)
    records = [
        {"source": f"/synthetic/{i}.png", "size": 1, "mtime_ns": 1,
         "colors": rng.integers(0, 256, (8, 3)).tolist(),
         "shares": (np.sort(rng.dirichlet(np.ones(8)))[::-1]).tolist(), "k": 8}
        for i in range(n)
    ]
    with PaletteStore(path) as db:
        t0 = time.perf_counter()
        for record in records:
            db.add_palette(record, '{"k":8}')
        return n / (time.perf_counter() - t0)


def main() -> None:
    """Time `run_batch` on the linked copies for each worker count; print a table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", type=Path, default=DEFAULT_IMAGES)
    parser.add_argument("--copies", type=int, default=10)
    parser.add_argument("-k", type=int, default=8)
    parser.add_argument(
        "--workers",
        type=int,
        nargs="*",
        default=None,
        help="worker counts to time (default: 1 and all cores)",
    )
    args = parser.parse_args()
    originals = sorted(args.images.glob("*.png"))
    if not originals:
        raise SystemExit(f"no PNG images in {args.images}")
    cores = os.cpu_count() or 1
    counts = args.workers or sorted({1, cores})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        for copy in range(args.copies):
            (folder / f"copy{copy:03d}").mkdir(parents=True)
            for image in originals:
                os.symlink(image, folder / f"copy{copy:03d}" / image.name)
        sources = expand_inputs([str(folder)])
        print(
            f"{len(sources)} files ({len(originals)} Kodak images x {args.copies}), "
            f"k={args.k}, {cores} cores\n"
        )
        print(
            f"{'workers':>7} {'images':>6} {'seconds':>8} {'images/s':>9} {'failed':>6} "
            f"{'decode/s':>9} {'batch/decode':>12} {'work/s':>8} {'batch/work':>10}"
        )
        options = BatchOptions(k=args.k)
        for workers in counts:
            with PaletteStore(Path(tmp) / f"w{workers}.sqlite") as db:
                t0 = time.perf_counter()
                summary = run_batch(sources, db, options, workers=workers)
                seconds = time.perf_counter() - t0
            rate = summary.done / seconds
            decode = pool_rate(workers, decode_only, sources)
            work = pool_rate(workers, process, sources, options.as_dict(), 30.0)
            print(
                f"{workers:>7} {summary.done:>6} {seconds:>8.1f} {rate:>9.2f} {summary.failed:>6} "
                f"{decode:>9.2f} {rate / decode:>12.0%} {work:>8.2f} {rate / work:>10.0%}",
                flush=True,
            )
        print(f"\nwriter alone: {writer_rate(Path(tmp) / 'writer.sqlite'):,.0f} palettes/s into the database")


if __name__ == "__main__":
    main()
