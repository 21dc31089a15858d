"""One core or two: the palette stages of `extract` with the split loops on one thread, then on two.

    python benchmarks/bench_threads.py [--sets kodak,cq100] [--k 8] [--repeats 7]

For every image (decoded once, as `extract` decodes it) the palette of the decoded pixels
(`chromapal.extract_palette`: histogram, clustering, polish, the rule's table and shares) is
timed with ``_kernels.set_threads(1)`` and ``set_threads(2)`` alternately, best of
`--repeats` each, and the palettes are checked to be identical. Prints per set the median
times and the median per-image ratio, with the load average, since a second core only
helps when it is idle.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from chromapal import _kernels
from chromapal.load import DRAFT_ABOVE, load_image
from chromapal.pipeline import extract_palette

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="kodak,art,cq100,large")
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    for name in args.sets.split(","):
        one, two, same = [], [], 0
        files = sorted(p for p in (IMAGES / name).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        for path in files:
            pixels = load_image(path, draft_above=DRAFT_ABOVE).pixels
            best = {1: float("inf"), 2: float("inf")}
            hexes = {}
            for _ in range(args.repeats):
                for n in (1, 2):
                    _kernels.set_threads(n)
                    t = time.perf_counter()
                    hexes[n] = extract_palette(pixels, k=args.k).hex
                    best[n] = min(best[n], time.perf_counter() - t)
            same += hexes[1] == hexes[2]
            one.append(best[1])
            two.append(best[2])
        _kernels.set_threads(2)
        ratio = statistics.median(b / a for a, b in zip(one, two, strict=True))
        print(f"{name} ({len(files)}): one thread {1e3 * statistics.median(one):.2f} ms, two {1e3 * statistics.median(two):.2f} ms, "
              f"median ratio {ratio:.2f}; identical palettes {same}/{len(files)}")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
