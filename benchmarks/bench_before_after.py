"""Time two versions of chromapal in one process, image by image: decoding, then the palette.

    python benchmarks/bench_before_after.py BEFORE_PARENT [--sets kodak,art,cq100,large] [--k 8] [--repeats 5]

BEFORE_PARENT holds an older chromapal package, built, under the name ``chromapal_before``
(e.g. ``git archive OLD | tar -x -C /tmp/old``, build its ``_kernels`` in place, then copy
``/tmp/old/src/chromapal`` to ``BEFORE_PARENT/chromapal_before``: the package imports itself
relatively, so the copy works under the new name). For every image both versions decode it
(``load_image``) and find the palette of the decoded pixels (``extract_palette``), alternating,
``--repeats`` times after a warm-up; the medians over images of each version's median per image
are printed per set. Alternating keeps both versions under the same machine load.

``--clock cpu`` times with ``time.process_time`` (every thread's CPU time) instead of the wall
clock, with each version's split loops on one thread where it has them (``_kernels.set_threads``):
on a machine busy with other work the CPU time still says what each version costs.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import statistics
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


def main() -> None:
    """Print, per set, the median decode and palette times of both versions."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before_parent", type=Path)
    parser.add_argument("--sets", default="kodak,art,cq100,large")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall")
    args = parser.parse_args()
    sys.path.insert(0, str(args.before_parent))
    versions = [importlib.import_module("chromapal_before"), importlib.import_module("chromapal")]
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    if args.clock == "cpu":
        for v in versions:
            kernels = importlib.import_module(f"{v.__name__}._kernels")
            if hasattr(kernels, "set_threads"):
                kernels.set_threads(1)
    print(f"clock: {args.clock}; k = {args.k}; median of {args.repeats} per image, median over images", flush=True)
    for name in args.sets.split(","):
        paths = sorted(p for p in (SHARED / name).glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        medians: dict[tuple[str, str], list[float]] = {}
        for path in paths:
            pixels = {v.__name__: v.load_image(path).pixels for v in versions}
            for v in versions:  # warm-up
                v.extract_palette(pixels[v.__name__], k=args.k)
            times: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.repeats):
                for v in versions:
                    gc.collect()
                    t0 = clock()
                    v.load_image(path)
                    t1 = clock()
                    v.extract_palette(pixels[v.__name__], k=args.k)
                    t2 = clock()
                    times.setdefault((v.__name__, "decode"), []).append(t1 - t0)
                    times.setdefault((v.__name__, "palette"), []).append(t2 - t1)
            for key, values in times.items():
                medians.setdefault(key, []).append(statistics.median(values))
        cells = "  ".join(f"{v}:{step} {statistics.median(t) * 1e3:.2f} ms" for (v, step), t in medians.items())
        print(f"{name} ({len(paths)} images, k={args.k}): {cells}", flush=True)


if __name__ == "__main__":
    main()
