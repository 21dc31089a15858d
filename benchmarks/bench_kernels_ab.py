r"""CPU time of the compiled kernels of two builds, side by side, and whether their results are identical.

    python benchmarks/bench_kernels_ab.py OLD_KERNELS_SO [--repeats 20]

OLD_KERNELS_SO is a ``_kernels`` extension built from an older ``_kernels.c``, e.g.::

    git show HEAD~5:src/chromapal/_kernels.c > /tmp/old/_kernels.c
    gcc -shared -fPIC -O3 -fno-math-errno -fno-trapping-math -ffp-contract=off \\
        -I"$(python -c 'import sysconfig; print(sysconfig.get_paths()["include"])')" \\
        /tmp/old/_kernels.c -o /tmp/old/_kernels.so -lpthread

On real inputs (the occupied cells of colourful and muted photos, their 4-bit histograms,
palettes from `extract`), each kernel is called on the old and the current build in turn,
one thread each (``set_threads(1)``), `--repeats` times; the least CPU time of each is
printed with "identical" when every output array is equal bit for bit (NaN equal to NaN).
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

import chromapal
from chromapal import _kernels as NEW
from chromapal.assign import cell_centres_lab, cell_index
from chromapal.colorspace import lab_from_srgb, oklab_from_srgb
from chromapal.load import load_image
from chromapal.sample import coarsen, color_counts

IMAGES = Path(__file__).resolve().parents[2] / "shared" / "images"
PHOTOS = ("cq100/calaveras.png", "cq100/adirondack_chairs.png", "kodak/kodim05.png")


def least(fn: Callable[[], object], repeats: int) -> float:
    """The least CPU time of `repeats` calls of `fn`."""
    best = float("inf")
    for _ in range(repeats):
        t = time.process_time()
        fn()
        best = min(best, time.process_time() - t)
    return best


def compare(label: str, call: Callable[[object], list[np.ndarray]], old: object, repeats: int) -> None:
    """Time `call(kernels)` on both builds (alternating) and print whether the outputs are identical."""
    times = {"old": float("inf"), "new": float("inf")}
    outs = {}
    for _ in range(repeats):
        for name, k in (("old", old), ("new", NEW)):
            t = time.process_time()
            outs[name] = call(k)
            times[name] = min(times[name], time.process_time() - t)
    same = all(np.array_equal(a, b, equal_nan=True) for a, b in zip(outs["old"], outs["new"], strict=True))
    print(f"| {label} | {times['old'] * 1e3:.3f} | {times['new'] * 1e3:.3f} | {times['old'] / times['new']:.2f}× | "
          f"{'identical' if same else 'DIFFERENT'} |", flush=True)


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    spec = importlib.util.spec_from_file_location("_kernels", args.old)
    old = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(old)  # type: ignore[union-attr]
    for k in (old, NEW):
        if hasattr(k, "set_threads"):
            k.set_threads(1)
    print("| kernel and input | old ms | new ms | speed-up | results |")
    print("|---|---|---|---|---|")
    for rel in PHOTOS:
        path = IMAGES / rel
        counts = color_counts(load_image(path).pixels)
        cells = np.unique(cell_index(counts.colors))
        centres = np.ascontiguousarray(cell_centres_lab()[cells])
        lab = lab_from_srgb(counts.colors)
        w = counts.counts.astype(np.float64)
        for k in (4, 8, 16):
            pal = lab_from_srgb(chromapal.extract(path, k).colors)

            def nearest(kern, pal=pal, centres=centres):  # noqa: ANN001, ANN202
                labels, de = np.empty(len(centres), np.int64), np.empty(len(centres))
                kern.nearest_de2000(centres, pal, labels, de)
                return [labels, de]

            compare(f"nearest_de2000, {rel}, {len(cells)} cells, k = {k}", nearest, old, args.repeats)
        pal = lab_from_srgb(chromapal.extract(path, 8).colors)

        def weiszfeld(kern, pal=pal, lab=lab, w=w):  # noqa: ANN001, ANN202
            c = pal.copy()
            score = kern.weiszfeld(lab, w, c, 3, 1.0)
            return [c, np.array(score)]

        def swap(kern, pal=pal, lab=lab, w=w):  # noqa: ANN001, ANN202
            loss = np.empty(len(pal))
            worst = kern.swap_stats(lab, w, pal, loss)
            return [loss, np.array(worst)]

        compare(f"weiszfeld (4 passes), {rel}, k = 8", weiszfeld, old, args.repeats)
        compare(f"swap_stats, {rel}, k = 8", swap, old, args.repeats)
        coarse = coarsen(counts, 4)
        points = np.ascontiguousarray(oklab_from_srgb(coarse.colors) * [0.5, 1, 1])
        cw = coarse.counts.astype(np.float64)
        for k in (8, 16):

            def cut(kern, k=k, points=points, cw=cw):  # noqa: ANN001, ANN202
                c = np.zeros((k, 3))
                made = kern.median_cut(points, cw, c)
                return [c, np.array(made)]

            compare(f"median_cut, {rel} 4-bit histogram ({len(cw)} rows), k = {k}", cut, old, args.repeats)


if __name__ == "__main__":
    main()
