"""PNG decoding: chromapal's fast path against libspng (pyspng) and Pillow alone, same process.

For every 8-bit RGB(A) PNG of the given folders (the files the fast path takes), each
decoder reads the file from disk to a uint8 array; the best of `--repeats` runs per file is
kept and the median per folder printed as a Markdown table (ms). Columns:

- ``chromapal``: ``load_image(path)`` as a user calls it: Pillow reads the header, the
  hardened chunk walk (``chromapal.png``) checks the layout, libdeflate inflates, the C
  kernel unfilters.
- ``walk``: the two chunk walks alone (the metadata bound before Pillow opens the file,
  and the layout check of "one parser decides"), in microseconds.
- ``pyspng``: ``pyspng.load(bytes)`` (libspng, zlib inflate, its own CRC and chunk checks),
  with the file read; skipped if pyspng is not installed (``pip install pyspng``).
- ``Pillow``: ``Image.open(path)`` then ``np.asarray(im)`` (what chromapal does for every
  other PNG).

Every decoder's pixels are compared with Pillow's; a difference is reported.

Usage: ``python benchmarks/bench_png.py ../shared/images/kodak ../shared/images/art ../shared/images/cq100``
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

from chromapal import load_image
from chromapal.png import _walk_chunks, check_png_input

try:
    import pyspng
except ImportError:  # optional: only this benchmark uses it
    pyspng = None


def best_ms(fn: Callable[[], object], repeats: int) -> float:
    """The fastest of `repeats` calls of `fn`, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def pillow(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im)


def walk(path: Path) -> object:
    check_png_input(path, path.name)
    with open(path, "rb") as fp:
        return _walk_chunks(fp, None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    decoders: dict[str, Callable[[Path], object]] = {
        "chromapal": lambda p: load_image(p).pixels,
        "walk": walk,
        "Pillow": pillow,
    }
    if pyspng is not None:
        decoders["pyspng"] = lambda p: pyspng.load(p.read_bytes())
    print("| images | files | " + " | ".join(
        f"{name} {'µs' if name == 'walk' else 'ms'}" for name in decoders) + " | chromapal vs Pillow |")
    print("|---" * (len(decoders) + 3) + "|")
    for folder in args.folders:
        files = []
        for path in sorted(folder.glob("*.png")):
            with Image.open(path) as im:
                if im.mode in ("RGB", "RGBA") and "transparency" not in im.info:
                    files.append(path)
        times: dict[str, list[float]] = {name: [] for name in decoders}
        for path in files:
            reference = pillow(path)
            for name, fn in decoders.items():
                if name != "walk":
                    out = fn(path)
                    if not np.array_equal(out, reference):
                        print(f"note: {name} differs from Pillow on {path.name}")
                times[name].append(best_ms(lambda fn=fn: fn(path), args.repeats))
        medians = {name: statistics.median(t) for name, t in times.items()}
        cells = [
            f"{medians[name] * 1000:.0f}" if name == "walk" else f"{medians[name]:.2f}" for name in decoders
        ]
        ratio = statistics.median(c / p for c, p in zip(times["chromapal"], times["Pillow"], strict=True))
        print(f"| {folder.name} | {len(files)} | " + " | ".join(cells) + f" | {ratio:.2f}× |")


if __name__ == "__main__":
    main()
