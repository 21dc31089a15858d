"""Benchmark: recolour a 24-megapixel photo at full resolution; time and peak memory.

    .venv/bin/python benchmarks/bench_recolor.py [PHOTO ...] [-k 8] [--dither]

Each photo runs in a fresh subprocess so the numbers do not mix. Steps timed: decode
(upright, full size), palette (`chromapal.extract`, as the CLI does), recolour (each pixel's
palette colour by the one assignment rule, `chromapal.assign`: a table of 32,768 cells; with
``--dither`` Floyd-Steinberg in Oklab, `chromapal.dither`) and PNG encoding of the indexed result. Memory is read from
/proc/self/status: VmHWM (peak RSS) is reset just before recolouring by writing 5 to
/proc/self/clear_refs, so "recolour peak growth" is the memory the recolouring itself adds
on top of the decoded image. Without arguments the largest photo in
../shared/images/large/ is used; if that folder is absent the benchmark says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

LARGE = Path(__file__).resolve().parents[2] / "shared" / "images" / "large"

CHILD = r"""
import io, json, sys, time
from pathlib import Path

def status(key):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0

import numpy as np
import chromapal
from chromapal.load import load_image
from chromapal.render.recolor import recolor_pixels
path, k, dither = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
out = {"path": path, "k": k, "dither": dither, "rss_after_imports": status("VmRSS")}
t = time.perf_counter(); pixels = load_image(path, upright=True, draft_above=None).pixels
out["decode_s"] = time.perf_counter() - t
out["shape"] = list(pixels.shape)
t = time.perf_counter(); palette = chromapal.extract(path, k)
out["palette_s"] = time.perf_counter() - t
rss = status("VmRSS")
try:
    Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
    out["hwm_reset"] = True
except OSError:
    out["hwm_reset"] = False
t = time.perf_counter(); image = recolor_pixels(pixels, palette, dither=dither)
out["recolor_s"] = time.perf_counter() - t
out["recolor_peak_growth"] = status("VmHWM") - rss
t = time.perf_counter(); buffer = io.BytesIO(); image.save(buffer, "PNG")
out["png_s"] = time.perf_counter() - t
out["png_bytes"] = buffer.tell()
out["mode"] = image.mode
out["rss_before_recolor"] = rss
out["peak_rss"] = status("VmHWM") if not out["hwm_reset"] else max(status("VmHWM"), rss)
print(json.dumps(out))
"""


def run(path: Path, k: int, dither: bool) -> dict[str, object]:
    """Measure one photo in a fresh interpreter; return the child's JSON record."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(path), str(k), "1" if dither else "0"],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout)


def main() -> int:
    """Parse arguments, run each photo, print a table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="*", type=Path)
    parser.add_argument("-k", type=int, default=8)
    parser.add_argument("--dither", action="store_true")
    args = parser.parse_args()
    photos = args.photos
    if not photos:
        if not LARGE.is_dir():
            print(f"skipped: no photos given and {LARGE} is absent")
            return 0
        photos = [max(sorted(LARGE.glob("*.jpg")), key=_pixels)]
    mb = 1024 * 1024
    print(
        f"{'photo':42} {'size':>11} {'decode':>7} {'palette':>8} {'recolour':>9} {'png':>6} "
        f"{'recolour peak +':>16} {'peak RSS':>9}"
    )
    for photo in photos:
        r = run(photo, args.k, args.dither)
        h, w = r["shape"][:2]  # type: ignore[index]
        print(
            f"{photo.name[:42]:42} {w:>5}x{h:<5} {r['decode_s']:6.2f}s {r['palette_s']:7.2f}s "
            f"{r['recolor_s']:8.2f}s {r['png_s']:5.2f}s {r['recolor_peak_growth'] / mb:13.0f} MB "
            f"{r['peak_rss'] / mb:6.0f} MB"
        )
    print(
        f"k={args.k}, dither={args.dither}; last photo {w * h / 1e6:.1f} MP, "
        f"decoded RGB {w * h * 3 / mb:.0f} MB"
    )
    return 0


def _pixels(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return im.width * im.height


if __name__ == "__main__":
    sys.exit(main())
