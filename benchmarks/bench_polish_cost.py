"""CPU cost of a change to the clustering constants: two settings of `chromapal.pipeline`, interleaved.

    python benchmarks/bench_polish_cost.py [--sets kodak,art,cq100,large] [--k 4 8 16] [--repeats 5]
                                           [--a NAME=VALUE ...] [--b NAME=VALUE ...]

For every image (decoded once, as `extract` decodes it) the palette stages
(`chromapal.pipeline.extract_palette`: histogram, clustering, polish, the rule's table
and shares) run with setting A, then B, alternately, `--repeats` times each; each
setting's time is the least CPU time (`time.process_time`, one thread) of its calls, so
both see the same build and, call by call, the same machine load. Printed per set and k:
the summed least times of A and B and the median of the per-image ratios B / A.

A setting is a list of ``NAME=VALUE`` (a JSON value) applied to `chromapal.pipeline`
on top of its current constants. By default A is the current code without split
moves (``POLISH`` with ``"splits": 0``) and B the current code: the cost of the split moves.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from chromapal import _kernels, pipeline
from chromapal.load import DRAFT_ABOVE, load_image

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"
SUFFIXES = (".png", ".jpg", ".jpeg")


def parse(items: list[str]) -> dict[str, object]:
    """``NAME=VALUE`` items as a dict of pipeline constants (checked to exist)."""
    out = {}
    for item in items:
        name, value = item.split("=", 1)
        if not hasattr(pipeline, name):
            raise SystemExit(f"chromapal.pipeline has no {name}")
        out[name] = json.loads(value)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="kodak,art,cq100,large")
    ap.add_argument("--k", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--a", action="append", default=None, metavar="NAME=VALUE")
    ap.add_argument("--b", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args()
    current = {name: getattr(pipeline, name) for name in ("POLISH", "FINE_POLISH", "LLOYD_STEPS", "POLISH_BITS")}
    a = current | (parse(args.a) if args.a is not None else {"POLISH": pipeline.POLISH | {"splits": 0}})
    b = current | parse(args.b)
    _kernels.set_threads(1)
    for name in args.sets.split(","):
        paths = sorted(p for p in (IMAGES / name).iterdir() if p.suffix.lower() in SUFFIXES)
        images = [load_image(p, draft_above=DRAFT_ABOVE).pixels for p in paths]
        for k in args.k:
            least = {"a": [], "b": []}
            for pixels in images:
                best = {"a": float("inf"), "b": float("inf")}
                for _ in range(args.repeats):
                    for label, setting in (("a", a), ("b", b)):
                        for key, value in setting.items():
                            setattr(pipeline, key, value)
                        t = time.process_time()
                        pipeline.extract_palette(pixels, k=k)
                        best[label] = min(best[label], time.process_time() - t)
                least["a"].append(best["a"])
                least["b"].append(best["b"])
            ratio = statistics.median(y / x for x, y in zip(least["a"], least["b"], strict=True))
            print(f"{name} ({len(images)}) k={k}: A {1e3 * sum(least['a']):.1f} ms, B {1e3 * sum(least['b']):.1f} ms "
                  f"(sum {100 * (sum(least['b']) / sum(least['a']) - 1):+.1f} %), median per-image B/A {ratio:.3f}",
                  flush=True)
    for key, value in current.items():
        setattr(pipeline, key, value)


if __name__ == "__main__":
    main()
