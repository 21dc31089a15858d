"""extract_many: the palettes of one image for several k, decoding and counting it once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy.typing as npt

from .adjust import IGNORE_TOLERANCE
from .colorspace import canonical_space
from .load import DRAFT_ABOVE, MAX_PIXELS, Frames, Source, load_image
from .palette import Palette
from .pipeline import MAX_ERROR, MAX_K, _check_k, _check_options, counted_image, palette_from_counts

#: Most k values one call takes (one palette each).
MAX_KS = MAX_K


def extract_many(
    source: Source,
    ks: Iterable[int | str] = range(1, 11),
    *,
    space: str = "oklab",
    seed: int = 0,
    init: str = "median-cut",
    max_error: float = MAX_ERROR,
    alpha_threshold: int = 128,
    frames: Frames = "first",
    max_pixels: int = MAX_PIXELS,
    draft: bool = True,
    ignore: Sequence[Sequence[int]] = (),
    ignore_tolerance: float = IGNORE_TOLERANCE,
    delta_e: bool = False,
) -> list[Palette]:
    """Return one palette per k in `ks`, each exactly what `chromapal.extract` gives for that k.

    The image is decoded once and its colours counted once (the exact colours too, when
    `delta_e` needs them), so ten palettes cost one decode plus ten clusterings.

    Parameters
    ----------
    source : path, URL, bytes, binary file, PIL image or ndarray
        The image, as `chromapal.extract` takes it.
    ks : iterable of int or "auto"
        The k values, in the order the palettes are returned (1 to 256 values, each 1 to
        256 or ``"auto"``).
    space, seed, init, max_error, alpha_threshold, frames, max_pixels, draft, ignore, ignore_tolerance, delta_e
        As for `chromapal.extract`.

    Returns
    -------
    list of Palette
        One per k, in the order of `ks`.

    Raises
    ------
    ValueError
        If `ks` is empty or too long, or a k, `space` or `init` is out of range.
    UnreadableImageError, EmptyImageError, ImageTooLargeError
        As `chromapal.extract`.
    """
    ks = _checked(ks, init, max_error)
    loaded = load_image(source, frames=frames, max_pixels=max_pixels, draft_above=DRAFT_ABOVE if draft else None)
    return many_from_pixels(
        loaded.pixels, ks, source=loaded.name, space=space, seed=seed, init=init, max_error=max_error,
        alpha_threshold=alpha_threshold, ignore=ignore, ignore_tolerance=ignore_tolerance, delta_e=delta_e,
    )


def many_from_pixels(
    pixels: npt.ArrayLike,
    ks: Iterable[int | str],
    *,
    source: str | None = None,
    space: str = "oklab",
    seed: int = 0,
    init: str = "median-cut",
    max_error: float = MAX_ERROR,
    alpha_threshold: int = 128,
    ignore: Sequence[Sequence[int]] = (),
    ignore_tolerance: float = IGNORE_TOLERANCE,
    delta_e: bool = False,
) -> list[Palette]:
    """`extract_many` of an already decoded image (`pixels` as `chromapal.extract_palette` takes it).

    `source` names the image in the palettes and messages.
    """
    ks = _checked(ks, init, max_error)
    image, counts, alpha_threshold, prefetch = counted_image(
        pixels, alpha_threshold=alpha_threshold, ignore=ignore, ignore_tolerance=ignore_tolerance,
        exact_needed=delta_e or "auto" in ks,
    )
    exact = prefetch.result() if prefetch is not None else None  # counted once, used for every k
    return [
        palette_from_counts(
            counts, k=k, space=canonical_space(space), seed=seed, init=init, max_error=max_error,
            source=source, alpha_threshold=alpha_threshold, exact=exact, pixels=image, delta_e=delta_e,
        )
        for k in ks
    ]


def _checked(ks: Iterable[int | str], init: str, max_error: float) -> list[int | str]:
    ks = list(ks)
    if not 1 <= len(ks) <= MAX_KS:
        raise ValueError(f"ks must hold 1 to {MAX_KS} values (got {len(ks)})")
    for k in ks:
        _check_k(k)
    _check_options(init, max_error)
    return ks
