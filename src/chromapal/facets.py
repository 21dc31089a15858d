"""Named-colour facets: each palette colour snapped to the nearest of a short list of basic names.

Museums that offer "search by colour" snap colours to a few dozen names and count how
much of each image every name covers. chromapal's list (`FACETS`) is the eleven basic
colour terms of Berlin and Kay (black, grey, white, red, orange, yellow, green, blue,
purple, pink, brown) plus five that collection sites commonly separate (beige, olive,
teal, navy, maroon), each with one prototype sRGB colour. A palette colour belongs to
the facet whose prototype is nearest in CIEDE2000; an image's facet share is the sum of
the shares of its colours in that facet.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np

from .colorspace import ciede2000, lab_from_srgb

#: Facet names and their prototype sRGB colours (the order is the documented one).
FACETS: Final = {
    "black": (26, 26, 26),
    "grey": (128, 128, 128),
    "white": (245, 245, 245),
    "red": (200, 16, 46),
    "orange": (242, 140, 40),
    "yellow": (245, 210, 10),
    "green": (58, 154, 58),
    "blue": (20, 60, 230),
    "purple": (128, 40, 150),
    "pink": (244, 166, 198),
    "brown": (123, 74, 38),
    "beige": (216, 195, 160),
    "olive": (128, 124, 42),
    "teal": (31, 138, 138),
    "navy": (27, 42, 92),
    "maroon": (110, 20, 35),
}
FACET_NAMES: Final = tuple(FACETS)
_PROTOTYPES: Final = lab_from_srgb(np.array(list(FACETS.values()), dtype=np.uint8))


def facet_of(rgb: Sequence[Sequence[int]] | np.ndarray) -> list[str]:
    """Return the facet name of each sRGB colour (uint8 triples), nearest prototype in CIEDE2000."""
    arr = np.asarray(rgb, dtype=np.uint8).reshape(-1, 3)
    if len(arr) == 0:
        return []
    lab = lab_from_srgb(arr)
    de = ciede2000(lab[:, None, :], _PROTOTYPES[None, :, :])
    return [FACET_NAMES[i] for i in np.argmin(de, axis=1).tolist()]


def facet_shares(rgb: Sequence[Sequence[int]] | np.ndarray, shares: Sequence[float]) -> dict[str, float]:
    """Return ``{facet: summed share}`` of one palette, largest first."""
    totals: dict[str, float] = {}
    for name, share in zip(facet_of(rgb), shares, strict=True):
        totals[name] = totals.get(name, 0.0) + float(share)
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def check_facet(name: str) -> str:
    """Return `name` as a facet name (case-insensitive; 'gray' is 'grey').

    Raises
    ------
    ValueError
        If `name` is not one of `FACET_NAMES`.
    """
    key = name.strip().lower()
    key = "grey" if key == "gray" else key
    if key not in FACETS:
        raise ValueError(f"{name!r} is not a colour facet; expected one of {', '.join(FACET_NAMES)}")
    return key
