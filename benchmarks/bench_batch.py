"""Batch throughput: images per second with 1 worker and with all cores, on the Kodak images.

    .venv/bin/python benchmarks/bench_batch.py [--images DIR] [--copies 10] [-k 8]

The 24 Kodak PNGs are linked `--copies` times into a temporary folder (24 x 10 = 240 files),
then `run_batch` stores them into a fresh database once per worker count. Prints a table.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from chromapal.batch import BatchOptions, expand_inputs, run_batch
from chromapal.store import PaletteStore

DEFAULT_IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images" / "kodak"


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
        print(f"{'workers':>7} {'images':>6} {'seconds':>8} {'images/s':>9} {'failed':>6}")
        for workers in counts:
            with PaletteStore(Path(tmp) / f"w{workers}.sqlite") as db:
                t0 = time.perf_counter()
                summary = run_batch(sources, db, BatchOptions(k=args.k), workers=workers)
                seconds = time.perf_counter() - t0
            print(
                f"{workers:>7} {summary.done:>6} {seconds:>8.1f} {summary.done / seconds:>9.2f} "
                f"{summary.failed:>6}",
                flush=True,
            )


if __name__ == "__main__":
    main()
