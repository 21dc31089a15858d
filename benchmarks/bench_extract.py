"""chromapal against the blog recipe it replaces, and against Pillow's plain decode.

For every image (default: the 24 Kodak PNGs in ../shared/images/kodak), in one process:

* ``decode``   Pillow's plain full decode: ``Image.open(path).load()``;
* ``chromapal`` ``chromapal.extract(path, k)``, decoding included;
* ``recipe``   the blog recipe: Pillow RGB, resize to 200x200, scikit-learn
  ``KMeans(k, random_state=0)`` on those 40,000 pixels, decoding included.

Each is called once to warm up, then timed ``--repeats`` times (median, with
``gc.collect()`` before each call). Both palettes are scored like the shared
harness (../shared/bench): mean CIEDE2000 from every full-resolution pixel to
its nearest palette colour, nearest by CIELAB distance. Then, in a fresh
subprocess, the peak RSS growth of extracting a 24-megapixel photo over the
process's size after imports.

    python benchmarks/bench_extract.py [--images DIR] [--k 8] [--repeats 3] [--out results/extract.md]

Needs scikit-learn for the recipe (``make bench`` installs it).
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

import chromapal
from chromapal.colorspace import ciede2000, lab_from_srgb

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "images"
LARGE = SHARED / "large" / "prachi-palwe-NLqNQ10ppe0-unsplash.jpg"


def timed(fn: Callable[[], object], repeats: int) -> tuple[float, object]:
    """Median seconds of `repeats` calls after one warm-up, and the last result."""
    out = fn()
    times = []
    for _ in range(repeats):
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def distinct_colours(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Distinct opaque colours of the full-resolution image and their pixel counts."""
    with Image.open(path) as im:
        rgba = np.asarray(im.convert("RGBA")).reshape(-1, 4)
    rgb = rgba[rgba[:, 3] >= 128, :3]
    packed = (rgb[:, 0].astype(np.int64) << 16) | (rgb[:, 1].astype(np.int64) << 8) | rgb[:, 2]
    counts = np.bincount(packed, minlength=1 << 24)
    codes = np.flatnonzero(counts)
    colours = np.stack([(codes >> 16) & 255, (codes >> 8) & 255, codes & 255], axis=1)
    return colours, counts[codes].astype(np.float64)


def palette_error(colours: np.ndarray, weights: np.ndarray, palette: np.ndarray) -> float:
    """Mean CIEDE2000 from each pixel to its nearest palette colour (nearest by ΔE76)."""
    lab = lab_from_srgb(colours.astype(np.uint8))
    pal = lab_from_srgb(np.asarray(palette, dtype=np.uint8).reshape(-1, 3))
    total = 0.0
    for s in range(0, len(lab), 1 << 18):
        block = lab[s : s + (1 << 18)]
        nearest = np.argmin(((block[:, None, :] - pal[None]) ** 2).sum(axis=2), axis=1)
        total += float((ciede2000(block, pal[nearest]) * weights[s : s + (1 << 18)]).sum())
    return total / float(weights.sum())


def recipe(path: Path, k: int) -> np.ndarray:
    """The blog recipe: 200x200 thumbnail, scikit-learn KMeans on RGB, random_state=0."""
    from sklearn.cluster import KMeans

    img = Image.open(path).convert("RGB").resize((200, 200))
    km = KMeans(n_clusters=k, random_state=0).fit(np.asarray(img).reshape(-1, 3))
    return np.clip(np.rint(km.cluster_centers_), 0, 255).astype(np.uint8)


def decode(path: Path) -> None:
    with Image.open(path) as im:
        im.load()


# VmHWM, not getrusage's ru_maxrss: on Linux the latter keeps the high-water mark of the
# process that forked this one (the benchmark itself), across exec.
MEMORY_PROBE = """
import sys
import numpy, PIL.Image, chromapal
def status(key):
    for line in open('/proc/self/status'):
        if line.startswith(key + ':'):
            return int(line.split()[1]) * 1024
base = status('VmRSS')
palette = chromapal.extract(sys.argv[1], int(sys.argv[2]))
print(base, status('VmHWM'), len(palette))
"""


def memory(path: Path, k: int) -> dict[str, float]:
    """Peak RSS growth of one extraction in a fresh process, against the decoded RGB size."""
    out = subprocess.run(
        [sys.executable, "-c", MEMORY_PROBE, str(path), str(k)], capture_output=True, text=True, check=True
    ).stdout.split()
    base, peak = int(out[0]), int(out[1])
    with Image.open(path) as im:
        rgb_bytes = im.width * im.height * 3
    return {"image": path.name, "rgb_mb": rgb_bytes / 1e6, "growth_mb": (peak - base) / 1e6,
            "ratio": (peak - base) / rgb_bytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=SHARED / "kodak")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--large", type=Path, default=LARGE)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "extract.md")
    args = parser.parse_args()

    paths = sorted(p for p in args.images.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg"})
    if not paths:
        sys.exit(f"no images in {args.images}")
    rows = []
    for path in paths:
        t_dec, _ = timed(lambda: decode(path), args.repeats)
        t_cp, pal = timed(lambda: chromapal.extract(path, args.k), args.repeats)
        t_rec, rec = timed(lambda: recipe(path, args.k), args.repeats)
        colours, weights = distinct_colours(path)
        rows.append({
            "image": path.name, "decode_ms": t_dec * 1e3, "chromapal_ms": t_cp * 1e3, "recipe_ms": t_rec * 1e3,
            "chromapal_de": palette_error(colours, weights, pal.colors),
            "recipe_de": palette_error(colours, weights, rec),
        })
        r = rows[-1]
        print(f"{r['image']:28s} decode {r['decode_ms']:6.1f} ms  chromapal {r['chromapal_ms']:6.1f} ms "
              f"(dE {r['chromapal_de']:.3f})  recipe {r['recipe_ms']:6.1f} ms (dE {r['recipe_de']:.3f})", flush=True)

    med = {key: statistics.median(r[key] for r in rows) for key in ("decode_ms", "chromapal_ms", "recipe_ms")}
    speedup = statistics.median(r["recipe_ms"] / r["chromapal_ms"] for r in rows)
    vs_decode = statistics.median(r["chromapal_ms"] / r["decode_ms"] for r in rows)
    wins = sum(r["chromapal_de"] < r["recipe_de"] for r in rows)
    mem = memory(args.large, args.k) if args.large.exists() else None

    lines = [
        f"# bench_extract: k={args.k}, {len(rows)} images from {args.images.name}/, {args.repeats} timed calls each",
        "",
        "| image | decode ms | chromapal ms | recipe ms | chromapal ΔE2000 | recipe ΔE2000 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r['image']} | {r['decode_ms']:.1f} | {r['chromapal_ms']:.1f} | {r['recipe_ms']:.1f} | "
        f"{r['chromapal_de']:.3f} | {r['recipe_de']:.3f} |" for r in rows
    ]
    lines += [
        "",
        f"- median time per image: decode {med['decode_ms']:.1f} ms, chromapal {med['chromapal_ms']:.1f} ms, "
        f"recipe {med['recipe_ms']:.1f} ms",
        f"- chromapal is {speedup:.1f}x faster than the recipe (median of per-image ratios; target >= 3x)",
        f"- chromapal takes {vs_decode:.2f}x Pillow's plain decode (median of per-image ratios; target <= 2x)",
        f"- lower ΔE2000 than the recipe on {wins} of {len(rows)} images "
        f"(mean {statistics.mean(r['chromapal_de'] for r in rows):.3f} vs "
        f"{statistics.mean(r['recipe_de'] for r in rows):.3f})",
    ]
    if mem:
        lines.append(
            f"- {mem['image']}: peak RSS growth {mem['growth_mb']:.0f} MB = {mem['ratio']:.2f}x its decoded RGB "
            f"array ({mem['rgb_mb']:.0f} MB; target < 3x)"
        )
    report = "\n".join(lines)
    print("\n" + report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report + "\n")
    args.out.with_suffix(".json").write_text(json.dumps({"rows": rows, "memory": mem}, indent=1))


if __name__ == "__main__":
    main()
