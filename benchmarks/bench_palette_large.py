"""Palette time without decoding on the large photos, on one core, next to Okolors' published figure.

    python benchmarks/bench_palette_large.py [--images ../shared/images/large] [--k 8] [--repeats 5]

Okolors (Rust) reports 48-63 ms of palette time for 24-megapixel photos with 4
threads, decoding not counted. Here each photo is decoded once at full resolution
(no reduced-scale JPEG decoding), then the time of counting its colours and
clustering them (`color_counts` + `palette_from_counts`, everything `extract` does
after decoding) is measured; chromapal's loops run on one thread. Writes
benchmarks/results/palette_large.md.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from chromapal.load import load_image
from chromapal.pipeline import palette_from_counts
from chromapal.sample import color_counts

HERE = Path(__file__).resolve().parent
#: Okolors' published palette time for 24-MP photos, 4 threads (ms): the range over its test photos.
OKOLORS_MS = (48, 63)
OKOLORS_THREADS = 4


def palette_ms(pixels: object, k: int, repeats: int) -> float:
    """Median wall time (ms) of counting and clustering the colours of decoded `pixels`."""
    times = []
    for _ in range(repeats + 1):  # the first call warms up
        start = time.perf_counter()
        palette_from_counts(color_counts(pixels), k=k)  # type: ignore[arg-type]
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:]) * 1e3


def main() -> None:
    """Measure every image and write the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=HERE.parent.parent / "shared" / "images" / "large")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "palette_large.md")
    args = parser.parse_args()
    lines = [
        f"Palette time after decoding (count colours + cluster), k = {args.k}, full-resolution pixels, one thread",
        "",
        "| image | megapixels | ms | Mpx/s |",
        "|---|---:|---:|---:|",
    ]
    per_24mp = []
    for path in sorted(args.images.glob("*.jpg")):
        pixels = load_image(path, draft_above=None).pixels
        mp = pixels.shape[0] * pixels.shape[1] / 1e6
        ms = palette_ms(pixels, args.k, args.repeats)
        per_24mp.append(ms * 24 / mp)
        lines.append(f"| {path.name} | {mp:.1f} | {ms:.1f} | {mp / ms * 1e3:.0f} |")
        print(lines[-1], flush=True)
    low, high = OKOLORS_MS
    lines += [
        "",
        f"- scaled to 24 MP: {min(per_24mp):.0f}-{max(per_24mp):.0f} ms on one core; Okolors: {low}-{high} ms "
        f"on {OKOLORS_THREADS} threads, i.e. {low * OKOLORS_THREADS}-{high * OKOLORS_THREADS} ms of core time "
        "if its threads were fully used",
        "",
        "(Command: `python benchmarks/bench_palette_large.py`.)",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-4:]))


if __name__ == "__main__":
    main()
