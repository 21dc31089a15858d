"""What the decode-work bounds cost and what they stop (issue 11), in one process.

1. The JPEG structure check (``chromapal.jpeg.check_jpeg``) on every JPEG of the given
   folders: best of 5, ms, beside the file's 1/4-scale decode.
2. The repeated-scan attack: a flat progressive JPEG of ``--side`` pixels square whose
   last scan is repeated; ``load_image`` with the scan limit on, and off (slow: about
   0.6 ns per pixel per scan on the project machine), and with 100 scans in all.
3. A GIF of 100,000 1x1 frames with ``frames="all"``: the frame cap on, and off.

Usage: ``python benchmarks/bench_decode_bounds.py ../shared/images/large [--side 7000]``
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from pathlib import Path

from PIL import Image

from chromapal import PaletteError, load_image
from chromapal.jpeg import check_jpeg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_load import many_frames_gif  # noqa: E402 - the generator the tests use


def timed(label: str, fn) -> None:
    start = time.perf_counter()
    try:
        out = f"shape {fn().pixels.shape}"
    except PaletteError as exc:
        out = f"error: {exc}"
    print(f"  {label}: {time.perf_counter() - start:.3f} s -> {out}")


def repeated_scans(side: int, repeats: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (side, side), (200, 30, 60)).save(buf, "JPEG", progressive=True, quality=80)
    data = buf.getvalue()
    last = data.rindex(b"\xff\xda")
    return data[:-2] + data[last:-2] * repeats + b"\xff\xd9"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path)
    parser.add_argument("--side", type=int, default=7000)
    parser.add_argument("--no-slow", action="store_true", help="skip the attack with the limit off")
    args = parser.parse_args()
    print("JPEG structure check:")
    for folder in args.folders:
        for path in sorted(folder.glob("*.jp*g")):
            with Image.open(path) as im:
                times = []
                for _ in range(5):
                    start = time.perf_counter()
                    check_jpeg(im, path.name)
                    times.append(time.perf_counter() - start)
                start = time.perf_counter()
                im.draft("RGB", (im.size[0] // 4, im.size[1] // 4))
                im.load()
                decode = time.perf_counter() - start
            print(f"  {path.name}: check {min(times) * 1000:.2f} ms, 1/4-scale decode {decode * 1000:.0f} ms")
    bomb = repeated_scans(args.side, 1000)
    hundred = repeated_scans(args.side, 90)
    print(f"{args.side}x{args.side} progressive JPEG, last scan repeated 1,000 times ({len(bomb):,} bytes):")
    timed("limit on", lambda: load_image(bomb))
    if not args.no_slow:
        timed("limit off", lambda: load_image(bomb, max_scans=10**9))
    timed("100 scans in all, limit on", lambda: load_image(hundred))
    gif = many_frames_gif(100_000)
    print(f"GIF of 100,000 1x1 frames ({len(gif):,} bytes), frames='all':")
    timed("frame cap on", lambda: load_image(gif, frames="all"))
    timed("frame cap off", lambda: load_image(gif, frames="all", max_frames=10**6))


if __name__ == "__main__":
    main()
