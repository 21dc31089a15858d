"""CPU time of `extract` against Pillow's plain decode and fast-colorthief, per image set, on one thread.

    python benchmarks/bench_cpu_time.py [--sets kodak,art,cq100,large] [--k 4,8,16] [--repeats 5]

On a shared machine wall-clock times say more about the other work than about the code;
the CPU time a call costs (``time.process_time``, every thread of the process) does not,
much. Per image, each of Pillow's ``Image.open(path).load()``, ``chromapal.extract(path, k)``
with the split loops on one thread (``_kernels.set_threads(1)``: its CPU cost, which is
its wall time on an idle core) and ``fast_colorthief.get_palette(path, k)`` (when installed,
as in the harness's venv) is called in turn, `--repeats` rounds, and the least CPU time of
each is kept. Prints per set the median milliseconds and the median and worst per-image
ratio to the decode, with the load average.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from pathlib import Path

from PIL import Image

import chromapal
from chromapal import _kernels

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"


def cpu(fn) -> float:  # noqa: ANN001
    """CPU time of one call of `fn`, every thread counted."""
    gc.collect()
    t = time.process_time()
    fn()
    return time.process_time() - t


def main() -> None:
    """Print the table for every set and k."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="kodak,art,cq100,large")
    ap.add_argument("--k", default="8", help="one k or several, comma-separated (each timed in turn per image)")
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    try:
        import fast_colorthief
    except ImportError:
        fast_colorthief = None
    _kernels.set_threads(1)
    ks = [int(k) for k in args.k.split(",")]
    print(f"load average at start: {os.getloadavg()[0]:.2f}; k = {args.k}; least CPU time of {args.repeats}")
    print("| set | k | images | chromapal ms | Pillow decode ms | fast-colorthief ms "
          "| chromapal ÷ decode (median, worst) | chromapal ÷ fast-colorthief (median) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.sets.split(","):
        for k in ks:
            _one_set(name, k, args.repeats, fast_colorthief)
    _kernels.set_threads(2)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def _one_set(name: str, k: int, repeats: int, fast_colorthief) -> None:  # noqa: ANN001
    """Time every image of set `name` at `k` and print its table row."""
    rows = []
    files = sorted(p for p in (IMAGES / name).iterdir() if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
    for path in files:
        calls = {
            "decode": lambda p=path: Image.open(p).load(),
            "ours": lambda p=path: chromapal.extract(p, k),
        }
        if fast_colorthief is not None:
            calls["fct"] = lambda p=path: fast_colorthief.get_palette(str(p), k)
        for f in calls.values():
            f()  # warm-up
        best = {n: min(cpu(f) for _ in range(1)) for n, f in calls.items()}
        for _ in range(repeats - 1):
            for n, f in calls.items():
                best[n] = min(best[n], cpu(f))
        rows.append((path.name, best))
    ms = lambda n: 1e3 * statistics.median(b[n] for _, b in rows)  # noqa: E731
    ratio = [b["ours"] / b["decode"] for _, b in rows]
    worst = max(range(len(rows)), key=ratio.__getitem__)
    fct = (f"{ms('fct'):.1f}", f"{statistics.median(b['ours'] / b['fct'] for _, b in rows):.2f}×") \
        if fast_colorthief is not None else ("—", "—")
    print(f"| {name} | {k} | {len(rows)} | {ms('ours'):.1f} | {ms('decode'):.1f} | {fct[0]} | "
          f"{statistics.median(ratio):.2f}×, {ratio[worst]:.2f}× ({rows[worst][0]}) | {fct[1]} |", flush=True)


if __name__ == "__main__":
    main()
