"""The best palette a long search finds, per image and k: how far `extract` is from the limit.

    python benchmarks/reference_palettes.py [--sets kodak,art,cq100,large] [--k 4 8 16]
                                            [--restarts 32] [--out benchmarks/results]

For each image (decoded as `extract` decodes it) and k, the search starts from
`extract`'s own palette, from the median cut and from `--restarts` weighted
k-means++ draws (seeds 0, 1, ...) on the full 32x32x32 histogram; each start runs
Lloyd to convergence and then a long ΔE2000 polish on the full histogram
(`LONG_POLISH`: 30 re-weighted steps, 10 rounds of 3 swap tries of 6 steps, where
`extract` polishes mostly on a 16x16x16 histogram). Every result is scored on the
image's exact colours with the harness's measure (mean CIEDE2000 to the nearest
colour by ΔE76, `chromapal.cluster.mean_de2000`) and the best is the reference.

Written per k: ``reference_k{K}.json`` (per image: the reference palette and
score, `extract`'s score, the gap ``extract / reference - 1``) and a Markdown
table of the gap per set (``reference_gap.md``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

import chromapal
from chromapal.cluster import kmeans, kmeans_plus_plus, mean_de2000, median_cut, polish_de2000
from chromapal.colorspace import SPACE_TO_LINEAR, SPACES, lab_from_linear, lab_from_srgb, lab_to_srgb
from chromapal.finish import distinct_counts
from chromapal.load import DRAFT_ABOVE, load_image
from chromapal.pipeline import LIGHTNESS_WEIGHT
from chromapal.sample import color_counts

HERE = Path(__file__).resolve().parent
IMAGES = HERE.parent.parent / "shared" / "images"
LONG_POLISH = {"iters": 30, "swaps": 10, "tries": 3, "swap_iters": 6}
SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".gif")


def starts(points: np.ndarray, weights: np.ndarray, k: int, restarts: int) -> list[np.ndarray]:
    """The median cut and `restarts` seeded k-means++ draws, in the clustering space."""
    out = [median_cut(points, weights, k)]
    out += [kmeans_plus_plus(points, weights, k, np.random.default_rng(seed)) for seed in range(restarts)]
    return [s for s in out if len(s) == k]


def reference(path: Path, k: int, restarts: int) -> dict:
    """Search one image; return the reference and `extract`'s palette with their scores."""
    pixels = load_image(path, draft_above=DRAFT_ABOVE).pixels
    exact = distinct_counts(pixels)
    exact_lab, exact_w = exact.lab, exact.counts.astype(np.float64)
    counts = color_counts(pixels)
    lab, w = lab_from_srgb(counts.colors), counts.counts.astype(np.float64)
    to_space, _ = SPACES["oklab"]
    scale = np.array([LIGHTNESS_WEIGHT["oklab"], 1.0, 1.0])
    points = to_space(counts.colors) * scale

    ours = chromapal.extract(path, k)
    ours_lab = lab_from_srgb(ours.colors.astype(np.float64))
    ours_score = mean_de2000(exact_lab, exact_w, ours_lab)
    best, best_score = ours.colors, ours_score
    candidates = [ours_lab]  # extract's palette polished further is a candidate too
    for start in starts(points, w, k, restarts) if len(points) > k else []:
        centers = kmeans(points, k, weights=w, init=start).centers
        candidates.append(lab_from_linear(np.clip(SPACE_TO_LINEAR["oklab"](centers / scale), 0.0, 1.0)))
    for c in candidates if len(points) > k else []:
        rgb = lab_to_srgb(polish_de2000(lab, w, c, **LONG_POLISH))
        if len({tuple(v) for v in rgb.tolist()}) < k:
            continue  # k distinct colours only
        score = mean_de2000(exact_lab, exact_w, lab_from_srgb(rgb.astype(np.float64)))
        if score < best_score:
            best, best_score = rgb, score
    return {
        "image": f"{path.parent.name}/{path.name}",
        "k": k,
        "reference": ["#%02x%02x%02x" % tuple(int(v) for v in c) for c in best],
        "reference_de2000": best_score,
        "extract": ours.hex,
        "extract_de2000": ours_score,
        "gap": ours_score / best_score - 1.0,
    }


def update_gap(row: dict, path: Path, k: int) -> None:
    """Score the current `extract` against a stored reference (the reference kept if it is better)."""
    exact = distinct_counts(load_image(path, draft_above=DRAFT_ABOVE).pixels)
    ours = chromapal.extract(path, k)
    score = mean_de2000(exact.lab, exact.counts.astype(np.float64), lab_from_srgb(ours.colors.astype(np.float64)))
    if score < row["reference_de2000"]:
        row["reference"], row["reference_de2000"] = ours.hex, score
    row["extract"], row["extract_de2000"] = ours.hex, score
    row["gap"] = score / row["reference_de2000"] - 1.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", default="kodak,art,cq100,large")
    ap.add_argument("--k", type=int, nargs="+", default=[4, 8, 16])
    ap.add_argument("--restarts", type=int, default=32)
    ap.add_argument("--images", type=Path, default=IMAGES)
    ap.add_argument("--out", type=Path, default=HERE / "results")
    ap.add_argument("--gap", action="store_true",
                    help="keep the stored references (reference_k*.json) and measure the current extract against them")
    args = ap.parse_args(argv)
    sets = args.sets.split(",")
    lines = ["| set | k | images | mean gap | median gap | worst gap (image) | images over 1 % |", "|---|---|---|---|---|---|---|"]
    for k in args.k:
        rows = []
        if args.gap:  # every stored row is kept (and written back); those of `sets` are re-measured
            rows = json.loads((args.out / f"reference_k{k}.json").read_text())
            for r in rows:
                if r["image"].split("/")[0] in sets:
                    update_gap(r, args.images / r["image"], k)
        for name in sets if not args.gap else []:
            for path in sorted(p for p in (args.images / name).iterdir() if p.suffix.lower() in SUFFIXES):
                t = time.perf_counter()
                row = reference(path, k, args.restarts)
                rows.append(row)
                print(f"k={k} {row['image']}: extract {row['extract_de2000']:.4f} reference "
                      f"{row['reference_de2000']:.4f} gap {100 * row['gap']:+.2f} % ({time.perf_counter() - t:.1f} s)",
                      file=sys.stderr)
        (args.out / f"reference_k{k}.json").write_text(json.dumps(rows, indent=1))
        for name in sets:
            part = [r for r in rows if r["image"].startswith(name + "/")]
            gaps = [r["gap"] for r in part]
            worst = max(part, key=lambda r: r["gap"])
            lines.append(
                f"| {name} | {k} | {len(part)} | {100 * statistics.fmean(gaps):+.2f} % | "
                f"{100 * statistics.median(gaps):+.2f} % | {100 * worst['gap']:+.2f} % ({worst['image'].split('/')[1]}) | "
                f"{sum(g > 0.01 for g in gaps)} |"
            )
    text = "\n".join(lines) + "\n"
    (args.out / "reference_gap.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
