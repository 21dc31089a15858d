"""Issue 16's quality check without re-running the peers: chromapal scored by the harness, per set.

    python benchmarks/issue16_quality.py [--k 4 8 16] [--sets kodak,art,cq100,large]
                                         [--set NAME=VALUE ...] [--out benchmarks/results/issue16_quality]
                                         [--cpu-repeats 0]

For every image of ../shared/images/{sets} (decoded as `extract` decodes it, once) and k,
the palette of `chromapal.pipeline.extract_palette` is scored with the shared harness's own
scorer (``../shared/bench/metrics.py``: `ImageColours` of the full-resolution Pillow decode,
`palette_quality`), exactly as ``peers.py --py chromapal:extract`` scores it. The results are
written in the harness's JSON format (``{out}_k{K}.json``, untimed: ``repeats`` 0) and compared
per set with the peers' stored scores (`compare_peers.targets_per_set` with
``peers_k{K}.json`` for kodak/art/large and ``issue16_cq100_quality_k{K}.json`` for cq100).

``--set NAME=VALUE`` overrides a constant of `chromapal.pipeline` first (a JSON value), for
experiments, e.g. ``--set 'POLISH={"iters": 8, "swaps": 4, "tries": 4, "swap_iters": 3}'``.
With ``--cpu-repeats N`` the CPU time (`time.process_time`, one thread) of the palette
stages (`extract_palette` of the decoded pixels) is recorded too, the least of N calls.

The harness's `ImageColours` of each image is cached under ``/tmp/chromapal_issue16_cache``
(the full-resolution decode of a 24-megapixel JPEG and its colour table take seconds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from chromapal import _kernels, pipeline
from chromapal.load import DRAFT_ABOVE, load_image

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BENCH = REPO.parent / "shared" / "bench"
IMAGES = REPO.parent / "shared" / "images"
CACHE = Path("/tmp/chromapal_issue16_cache")
SUFFIXES = (".png", ".jpg", ".jpeg")
OURS = "chromapal:extract"

sys.path.insert(0, str(BENCH))
import metrics  # noqa: E402  (the harness's scorer, numpy only)

sys.path.insert(0, str(HERE))
from compare_peers import targets_per_set  # noqa: E402


def image_colours(path: Path) -> metrics.ImageColours:
    """The harness's `ImageColours` of `path` (cached on disk: the same arrays it computes)."""
    CACHE.mkdir(exist_ok=True)
    f = CACHE / f"{path.parent.name}__{path.name}.npz"
    if f.exists():
        z = np.load(f)
        c = metrics.ImageColours.__new__(metrics.ImageColours)
        c.n_pixels, c.weights, c.rgb, c.lab, c.oklab = int(z["n"]), z["w"], z["rgb"], z["lab"], z["oklab"]
        return c
    c = metrics.ImageColours(*metrics.load_rgb(path))
    np.savez(f, n=c.n_pixels, w=c.weights, rgb=c.rgb, lab=c.lab, oklab=c.oklab)
    return c


def files(sets: list[str]) -> list[Path]:
    """The images of `sets`, sorted by set then name."""
    return [p for s in sets for p in sorted((IMAGES / s).iterdir()) if p.suffix.lower() in SUFFIXES]


def evaluate(paths: list[Path], ks: list[int], cpu_repeats: int = 0) -> dict[int, dict]:
    """Harness-format results (one pseudo peer, `OURS`) per k for `paths`."""
    # the decode pseudo peer is named (compare_peers looks it up) but not run: the results are untimed
    out = {k: {"k": k, "repeats": 0, "peers": [OURS, "pillow_decode:decode"], "images": []} for k in ks}
    _kernels.set_threads(1)
    for path in paths:
        pixels = load_image(path, draft_above=DRAFT_ABOVE).pixels
        colours = image_colours(path)
        for k in ks:
            best = float("inf")
            for _ in range(max(cpu_repeats, 1)):
                t = time.process_time()
                pal = pipeline.extract_palette(pixels, k=k, source=path.name)
                best = min(best, time.process_time() - t)
            cols = [tuple(int(v) for v in c) for c in pal.colors]
            rec = {"status": "ok", "palette": pal.hex, "n_colours": len(cols), "n_distinct": len(set(cols)),
                   "quality": metrics.palette_quality(colours, cols)}
            if cpu_repeats:
                rec["cpu_time"] = best
            out[k]["images"].append({"path": str(path), "peers": {OURS: rec}})
    return out


def peer_files(k: int) -> list[Path]:
    """The stored peer results that hold every set's peers at `k`."""
    return [HERE / "results" / f"peers_k{k}.json", HERE / "results" / f"issue16_cq100_quality_k{k}.json"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--k", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--sets", default="kodak,art,cq100,large")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "issue16_quality")
    ap.add_argument("--cpu-repeats", type=int, default=0)
    args = ap.parse_args(argv)
    for item in args.set:
        name, value = item.split("=", 1)
        if not hasattr(pipeline, name):
            ap.error(f"chromapal.pipeline has no {name}")
        setattr(pipeline, name, json.loads(value))
    results = evaluate(files(args.sets.split(",")), args.k, args.cpu_repeats)
    for k, result in results.items():
        path = Path(f"{args.out}_k{k}.json")
        result["argv"] = sys.argv
        path.write_text(json.dumps(result, indent=1))
        print(targets_per_set(path, peer_files(k)))
        if args.cpu_repeats:
            for s in args.sets.split(","):
                t = [i["peers"][OURS]["cpu_time"] for i in result["images"] if Path(i["path"]).parent.name == s]
                print(f"k={k} {s}: palette stages CPU ms median {1e3 * statistics.median(t):.2f}, "
                      f"sum {1e3 * sum(t):.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
