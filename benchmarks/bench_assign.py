"""The assignment rule against the alternatives, and dithering: mean ΔE2000 of the pictures.

For every image of each set, the palette of ``chromapal.extract(path, k)`` flattens the
full-resolution image (alpha below 128 left out) by each rule, and the mean CIEDE2000
from every pixel to the colour it gets is reported (exact per-pixel means, computed over
the image's distinct colours weighted by their counts):

* ``oklab``    nearest palette colour in Oklab (the old ``recolor`` rule);
* ``de76``     nearest in CIELAB (the shared harness's pairing);
* ``exact``    least CIEDE2000 for each exact colour (the best any rule can do);
* ``rule``     chromapal's rule (`chromapal.assign`): least CIEDE2000 from the pixel's
               histogram-cell centre, palette colours keeping their own pixels.

With ``--dither``: the mean CIEDE2000 between the image and the flat and dithered pictures
after a Gaussian blur of σ pixels in linear light (a simplified S-CIELAB, Zhang & Wandell
1996: the eye averages neighbouring pixels).

    python benchmarks/bench_assign.py [--sets kodak,art,cq100,large] [--k 8] [--dither 1.5]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

import chromapal
from chromapal.assign import flatten_labels, labels_of_colors, rule_for
from chromapal.colorspace import ciede2000, lab_from_linear, lab_from_srgb, oklab_from_srgb, srgb_to_linear
from chromapal.dither import dither_labels

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
Image.MAX_IMAGE_PIXELS = None


def distinct(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Distinct opaque colours of the full-resolution image and their counts."""
    with Image.open(path) as im:
        rgba = np.asarray(im.convert("RGBA")).reshape(-1, 4)
    rgb = rgba[rgba[:, 3] >= 128, :3]
    key = (rgb[:, 0].astype(np.int64) << 16) | (rgb[:, 1].astype(np.int64) << 8) | rgb[:, 2]
    keys, counts = np.unique(key, return_counts=True)
    return np.stack([keys >> 16, (keys >> 8) & 255, keys & 255], 1).astype(np.uint8), counts.astype(np.float64)


def rule_errors(path: Path, k: int) -> dict[str, float]:
    """Mean ΔE2000 of the image flattened by each rule."""
    palette = chromapal.extract(path, k)
    rgb, w = distinct(path)
    lab, centres = lab_from_srgb(rgb), lab_from_srgb(palette.colors)
    de = np.stack([ciede2000(lab, c) for c in centres], axis=1)
    ok, ok_c = oklab_from_srgb(rgb), oklab_from_srgb(palette.colors)
    labels = {
        "oklab": np.argmin(((ok[:, None] - ok_c[None]) ** 2).sum(-1), 1),
        "de76": np.argmin(((lab[:, None] - centres[None]) ** 2).sum(-1), 1),
        "exact": np.argmin(de, 1),
        "rule": labels_of_colors(rgb, rule_for(palette.colors)),
    }
    return {name: float(np.sum(w * de[np.arange(len(w)), lab_]) / w.sum()) for name, lab_ in labels.items()}


def _blur(a: np.ndarray, sigma: float) -> np.ndarray:
    r = int(3 * sigma + 0.5)
    x = np.arange(-r, r + 1)
    g = np.exp(-(x**2) / (2 * sigma**2))
    g /= g.sum()
    p = np.pad(a, ((r, r), (r, r), (0, 0)), mode="reflect")
    p = sum(g[i] * p[i : i + a.shape[0]] for i in range(2 * r + 1))
    return sum(g[i] * p[:, i : i + a.shape[1]] for i in range(2 * r + 1))


def blurred_de(image: np.ndarray, picture: np.ndarray, sigma: float) -> float:
    """Mean CIEDE2000 between two sRGB pictures after a Gaussian blur in linear light."""
    a = lab_from_linear(_blur(srgb_to_linear(image), sigma))
    b = lab_from_linear(_blur(srgb_to_linear(picture), sigma))
    return float(ciede2000(a, b).mean())


def dither_errors(path: Path, k: int, sigma: float) -> dict[str, float]:
    """Blurred mean ΔE2000 of the flat and the dithered picture."""
    pixels = np.ascontiguousarray(chromapal.load_image(path).pixels[..., :3])
    palette = chromapal.extract(pixels, k)
    flat, _ = flatten_labels(pixels, rule_for(palette.colors))
    dithered = dither_labels(pixels, palette.colors)
    return {
        "flat": blurred_de(pixels, palette.colors[flat], sigma),
        "dithered": blurred_de(pixels, palette.colors[dithered], sigma),
    }


def main() -> None:
    """Print one line per image and a mean per set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="kodak,art,cq100,large")
    parser.add_argument("--k", type=int, default=8)
    parser.add_argument("--dither", type=float, default=None, metavar="SIGMA")
    args = parser.parse_args()
    for name in args.sets.split(","):
        paths = sorted(p for p in (SHARED / name).glob("*") if p.suffix.lower() in (".png", ".jpg", ".jpeg"))
        rows = []
        for path in paths:
            row = dither_errors(path, args.k, args.dither) if args.dither else rule_errors(path, args.k)
            rows.append(row)
            print(f"{name:6} {path.name[:40]:40} " + "  ".join(f"{n} {v:.4f}" for n, v in row.items()), flush=True)
        means = {n: float(np.mean([r[n] for r in rows])) for n in rows[0]}
        print(f"{name:6} MEAN k={args.k} ({len(rows)} images) " + "  ".join(f"{n} {v:.4f}" for n, v in means.items()))


if __name__ == "__main__":
    main()
