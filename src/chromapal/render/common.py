"""Pieces every renderer shares: the k-range syntax, output formats, saving and scaling."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

import numpy as np
from PIL import Image

from ..load import DRAFT_ABOVE, MAX_PIXELS, Frames, Source, load_image
from ..palette import Palette
from ..pipeline import MAX_K, extract_palette

#: Raster outputs: extension -> Pillow format name.
RASTER_FORMATS: Final = {
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "bmp": "BMP",
    "tif": "TIFF",
    "tiff": "TIFF",
}
#: Formats matplotlib writes for the pie charts (vector and raster).
FIGURE_FORMATS: Final = ("jpeg", "jpg", "pdf", "png", "svg", "webp")
#: Formats that store an indexed (palette-mode) image as it is.
INDEXED_FORMATS: Final = {"PNG", "GIF", "BMP", "TIFF"}
#: Background used when a format has no alpha channel (JPEG, BMP).
BACKGROUND: Final = (255, 255, 255)


def parse_ks(text: str, *, max_k: int = MAX_K) -> list[int]:
    """``'1-10'`` -> ``[1, ..., 10]``; ``'2,4,8'`` and ``'2-4,8'`` too; sorted, no repeats.

    Raises
    ------
    ValueError
        If `text` is not a comma-separated list of k values and ``lo-hi`` ranges
        within 1..`max_k`, or a range runs backwards.
    """
    expected = f"expected k values from 1 to {max_k} like '1-10' or '2,4,8'"
    ks: set[int] = set()
    for part in text.replace(" ", "").split(","):
        lo, sep, hi = part.partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(f"{text!r} is not a k range; {expected}")
        first, last = int(lo), int(hi) if sep else int(lo)
        if first > last:
            raise ValueError(f"{part!r} runs backwards; write it as '{last}-{first}'")
        if first < 1 or last > max_k:
            raise ValueError(f"{text!r} has k outside 1-{max_k}; {expected}")
        ks.update(range(first, last + 1))
    return sorted(ks)


def check_ks(ks: Iterable[int]) -> list[int]:
    """Validate k values given from Python; return them sorted, without repeats."""
    out = sorted({int(k) for k in ks})
    if not out:
        raise ValueError("no k values given; expected at least one k from 1 to 256")
    if out[0] < 1 or out[-1] > MAX_K:
        raise ValueError(f"k values must be between 1 and {MAX_K} (got {out[0]}..{out[-1]})")
    return out


def palettes_for(
    source: Source | Sequence[Palette] | Palette,
    ks: Iterable[int],
    *,
    space: str = "oklab",
    seed: int = 0,
    init: str = "median-cut",
    alpha_threshold: int = 128,
    frames: Frames = "first",
    max_pixels: int = MAX_PIXELS,
) -> list[Palette]:
    """One palette per k, decoding the image once (same palettes as `chromapal.extract`).

    Palettes given directly (one or a sequence) are returned as a list unchanged.
    """
    if isinstance(source, Palette):
        return [source]
    if isinstance(source, (list, tuple)) and source and all(isinstance(p, Palette) for p in source):
        return list(source)
    loaded = load_image(source, frames=frames, max_pixels=max_pixels, draft_above=DRAFT_ABOVE)  # type: ignore[arg-type]
    return [
        extract_palette(
            loaded.pixels,
            k=k,
            space=space,
            seed=seed,
            init=init,
            alpha_threshold=alpha_threshold,
            source=loaded.name,
        )
        for k in check_ks(ks)
    ]


def format_of(path: str | os.PathLike[str], formats: Iterable[str]) -> str:
    """Lower-case extension of `path` without the dot, checked against `formats`.

    Raises
    ------
    ValueError
        If the extension is not one of `formats`.
    """
    ext = Path(path).suffix.lower().lstrip(".")
    allowed = sorted(formats)
    if ext not in allowed:
        raise ValueError(
            f"{os.fspath(path)}: unknown output format {ext or '(none)'!r}; expected one of "
            f"{', '.join(allowed)}"
        )
    return ext


def save_image(image: Image.Image, path: str | os.PathLike[str]) -> None:
    """Write `image` in the format its extension names, converting modes the format lacks.

    Indexed images stay indexed where the format allows (PNG, GIF, BMP, TIFF); formats
    without alpha (JPEG, BMP) get transparent pixels composited on white.
    """
    fmt = RASTER_FORMATS[format_of(path, RASTER_FORMATS)]
    image = for_format(image, fmt)
    options = (
        {"optimize": True} if fmt == "PNG" else {"quality": 92} if fmt in ("JPEG", "WEBP") else {}
    )
    image.save(path, format=fmt, **options)


def for_format(image: Image.Image, fmt: str, *, alpha_threshold: int = 1) -> Image.Image:
    """Convert `image` to a mode Pillow can write as `fmt` without losing what it can keep.

    For GIF (no partial alpha) pixels with alpha below `alpha_threshold` become one
    transparent palette entry and the rest opaque: an image of at most 255 colours keeps
    them exactly (a recoloured image keeps its palette), others are reduced to 255 by
    median cut with Floyd-Steinberg dithering. The default threshold of 1 keeps every
    pixel that is visible at all (`recolor` has already made the pixels below its
    threshold fully transparent).
    """
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if fmt in INDEXED_FORMATS and image.mode == "P" and not (fmt == "BMP" and has_alpha):
        return image
    if fmt in ("JPEG", "BMP") or not has_alpha:
        if not has_alpha:
            return image.convert("RGB")
        flat = Image.new("RGB", image.size, BACKGROUND)
        flat.paste(image.convert("RGBA"), mask=image.convert("RGBA").getchannel("A"))
        return flat
    if fmt == "GIF":
        return indexed_with_alpha(image, alpha_threshold=alpha_threshold)
    return image.convert("RGBA")


def indexed_with_alpha(image: Image.Image, *, alpha_threshold: int = 1, colors: int = 255) -> Image.Image:
    """A "P" image of `image` with pixels of alpha below `alpha_threshold` on one transparent entry.

    The opaque pixels keep their colours exactly when there are at most `colors` of them,
    else a median-cut palette of `colors` entries with Floyd-Steinberg dithering is used.
    The transparent entry is the last one; `colors` is at most 255.
    """
    rgba = np.asarray(image.convert("RGBA"))
    clear = rgba[..., 3] < alpha_threshold
    rgb = np.ascontiguousarray(rgba[..., :3])
    shown = rgb[~clear]
    key = (shown[:, 0].astype(np.int32) << 16) | (shown[:, 1].astype(np.int32) << 8) | shown[:, 2]
    uniq = np.unique(key)
    if len(uniq) <= colors:
        lut = np.stack([(uniq >> 16) & 255, (uniq >> 8) & 255, uniq & 255], axis=1).astype(np.uint8)
        all_keys = (rgb[..., 0].astype(np.int32) << 16) | (rgb[..., 1].astype(np.int32) << 8) | rgb[..., 2]
        labels = np.searchsorted(uniq, all_keys).clip(0, max(len(uniq) - 1, 0)).astype(np.uint8)
    else:
        fill = rgb.copy()
        fill[clear] = shown[0]  # hidden pixels take an opaque colour, so they cost no entry
        table = Image.fromarray(fill).quantize(colors, method=Image.Quantize.MEDIANCUT)
        quantized = Image.fromarray(fill).quantize(palette=table, dither=Image.Dither.FLOYDSTEINBERG)
        labels = np.asarray(quantized).copy()
        lut = np.array(table.getpalette(), dtype=np.uint8).reshape(-1, 3)[: int(labels.max()) + 1]
    index = len(lut)
    if clear.any():
        labels[clear] = index
    out = Image.fromarray(np.ascontiguousarray(labels, dtype=np.uint8))  # mode "L", made "P" below
    out.putpalette(np.vstack([lut, [[255, 255, 255]]]).astype(np.uint8).tobytes(), rawmode="RGB")
    if clear.any():
        out.info["transparency"] = index
    return out


def fit_side(image: Image.Image, max_side: int | None) -> Image.Image:
    """Scale `image` down (Lanczos) to a longer side of `max_side`; ``None`` or 0 keeps it."""
    if not max_side or max(image.size) <= max_side:
        return image
    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)
