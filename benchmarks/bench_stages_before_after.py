"""CPU time of each palette stage, today's and an older version's (before the one assignment rule).

    python benchmarks/bench_stages_before_after.py BEFORE_PARENT [--sets kodak,cq100,art] [--k 8]

BEFORE_PARENT holds the older package as ``chromapal_before`` (see bench_before_after.py; made
from commit acd2b5c, whose palette stage is the histogram then the clustering). Per image, both
versions' stages run on the same decoded pixels, one thread each, five times; the least CPU
time of each stage is kept and the median over the set's images printed: ``b_count`` and
``b_cluster`` (before), ``n_count`` (`finish.counted_image`), ``n_cluster``
(`pipeline.cluster_colors`) and ``n_finish`` (`finish.finish`: the rule, exact colours, shares).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


def main() -> None:
    """Print one line per set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before_parent", type=Path)
    parser.add_argument("--sets", default="kodak,cq100,art")
    parser.add_argument("--k", type=int, default=8)
    args = parser.parse_args()
    sys.path.insert(0, str(args.before_parent))
    import chromapal_before.pipeline as bp
    import chromapal_before.sample as bs
    from chromapal_before import _kernels as bk

    import chromapal.finish as nf
    import chromapal.pipeline as np_
    from chromapal import _kernels as nk
    from chromapal.load import load_image

    for kernels in (bk, nk):
        if hasattr(kernels, "set_threads"):
            kernels.set_threads(1)
    clock = time.process_time
    for name in args.sets.split(","):
        paths = sorted(p for p in (SHARED / name).glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        stages: dict[str, list[float]] = {}
        for path in paths:
            pixels = load_image(path).pixels
            best: dict[str, float] = {}
            for _ in range(5):
                t0 = clock()
                before = bs.color_counts(pixels)
                t1 = clock()
                bp.cluster_colors(before, args.k, space="oklab")
                t2 = clock()
                image, counts, thr, exact = nf.counted_image(
                    pixels, alpha_threshold=128, ignore=(), ignore_tolerance=3.0, exact_needed=False
                )
                t3 = clock()
                rgb, _ = np_.cluster_colors(counts, args.k, space="oklab")
                t4 = clock()
                nf.finish(rgb, counts, exact=exact, pixels=image, alpha_threshold=thr)
                t5 = clock()
                for stage, spent in (("b_count", t1 - t0), ("b_cluster", t2 - t1), ("n_count", t3 - t2),
                                     ("n_cluster", t4 - t3), ("n_finish", t5 - t4)):
                    best[stage] = min(best.get(stage, float("inf")), spent)
            for stage, spent in best.items():
                stages.setdefault(stage, []).append(spent)
        cells = " ".join(f"{s}={1e3 * statistics.median(v):.2f}" for s, v in stages.items())
        print(f"{name} (k = {args.k}, ms): {cells}", flush=True)


if __name__ == "__main__":
    main()
