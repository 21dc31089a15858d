"""The k sweep: an image recoloured with k = 2, 3, ... colours, then the original, as frames."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Final

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..load import DRAFT_ABOVE, MAX_PIXELS, Frames, Source, load_image
from ..pipeline import extract_palette
from .common import check_ks, fit_side, for_format, indexed_with_alpha
from .recolor import recolor_pixels

#: Longest side of sweep frames unless asked otherwise.
MAX_SIDE: Final = 800
#: Milliseconds per frame, and for the final (original) frame.
DURATION: Final = 700
HOLD: Final = 2000
ANIMATION_FORMATS: Final = ("gif",)


def sweep_frames(
    source: Source,
    ks: Iterable[int] = range(2, 16),
    *,
    max_side: int | None = MAX_SIDE,
    dither: bool = False,
    space: str = "oklab",
    seed: int = 0,
    init: str = "median-cut",
    alpha_threshold: int = 128,
    frames: Frames = "first",
    max_pixels: int = MAX_PIXELS,
    labels: bool = True,
) -> list[Image.Image]:
    """Frames of the sweep: the image recoloured for each k in `ks`, then the original.

    Each frame is labelled ``k = <k>`` (the last ``original``) in its top-left corner.
    Palettes come from the whole image (as `chromapal.extract` finds them); the frames
    are scaled so their longer side is at most `max_side` (``None`` or 0: full size).
    Returns palette-mode ("P") PIL images, ready for a GIF.
    """
    ks = check_ks(ks)
    loaded = load_image(
        source, frames="first", max_pixels=max_pixels, draft_above=DRAFT_ABOVE, upright=True
    )
    pool = loaded.pixels
    if frames == "all":  # palettes from every frame pooled; the picture is the first frame
        pool = load_image(
            source, frames="all", max_pixels=max_pixels, draft_above=DRAFT_ABOVE
        ).pixels
    small = fit_side(Image.fromarray(loaded.pixels), max_side)
    pixels = np.asarray(small)
    out = []
    for k in ks:
        palette = extract_palette(
            pool, k=k, space=space, seed=seed, init=init, alpha_threshold=alpha_threshold, source=loaded.name
        )
        frame = for_format(
            recolor_pixels(pixels, palette, dither=dither, alpha_threshold=alpha_threshold), "GIF"
        )
        out.append(_labelled(frame, f"k = {k}") if labels else frame)
    # the original, as every frame: alpha below the threshold transparent, 253 colours at
    # most (with the transparent entry and the label's two, 256)
    original = indexed_with_alpha(small, alpha_threshold=max(alpha_threshold, 1), colors=253)
    out.append(_labelled(original, "original") if labels else original)
    return out


def _labelled(frame: Image.Image, text: str) -> Image.Image:
    """Draw `text` in black on a white box in the corner, using two extra palette entries."""
    if frame.mode != "P" or _entries(frame) > 254:
        frame = frame.convert("RGB").quantize(
            254, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE
        )
    frame = frame.copy()
    entries = _entries(frame)
    colors = np.array(frame.getpalette(), dtype=np.uint8).reshape(-1, 3)[:entries]
    frame.putpalette(
        np.vstack([colors, [[255, 255, 255], [0, 0, 0]]]).astype(np.uint8).tobytes(), rawmode="RGB"
    )
    white, black = entries, entries + 1
    size = max(12, min(frame.size) // 16)
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(frame)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    pad, margin = size // 3, size // 2
    box = (margin, margin, margin + right - left + 2 * pad, margin + bottom - top + 2 * pad)
    draw.rounded_rectangle(box, radius=pad, fill=white)
    draw.text((margin + pad - left, margin + pad - top), text, font=font, fill=black)
    return frame


def _entries(frame: Image.Image) -> int:
    """Palette entries in use: pixel indices and the transparent index (palettes may be padded)."""
    used = int(frame.getextrema()[1]) + 1  # type: ignore[arg-type,index]  # P: (low, high)
    clear = frame.info.get("transparency")
    return max(used, clear + 1) if isinstance(clear, int) else used


def save_animation(
    frames: Sequence[Image.Image],
    path: str | os.PathLike[str],
    *,
    duration: int = DURATION,
    hold: int | None = HOLD,
    loop: bool = True,
) -> None:
    """Write `frames` as an animated GIF: `duration` ms each, the last held `hold` ms.

    With ``loop=False`` the animation plays once.
    """
    if not frames:
        raise ValueError("no frames to write; expected at least one")
    if duration < 10 or (hold is not None and hold < 10):
        raise ValueError(f"frame durations must be at least 10 ms (got {duration} and {hold})")
    durations = [duration] * len(frames)
    durations[-1] = duration if hold is None else hold
    options = {"loop": 0} if loop else {}
    # frames with transparent pixels are cleared before the next one (disposal 2), so a
    # transparent pixel shows the page, not the frame before it
    transparent = any("transparency" in f.info or f.mode in ("RGBA", "LA", "PA") for f in frames)
    frames[0].save(
        path,
        format="GIF",
        save_all=True,
        append_images=list(frames[1:]),
        duration=durations,
        disposal=2 if transparent else 1,
        optimize=False,
        **options,
    )
