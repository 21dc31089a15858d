"""Colour names: the nearest CSS named colour and xkcd colour-survey name of any colour.

The lists ship as package data (``data/css-colors.txt``, ``data/xkcd-colors.txt``);
each is read and converted to CIELAB once, on first use. "Nearest" is the smallest
CIEDE2000 difference; ties go to the name listed first.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Final

import numpy as np
from numpy.typing import ArrayLike

from ._types import FloatArray, UInt8Array
from .colorspace import ciede2000, lab_from_srgb
from .errors import InvalidColorError
from .palette import Palette, parse_hex

#: Name lists: key -> data file.
NAME_LISTS: Final = {"css": "css-colors.txt", "xkcd": "xkcd-colors.txt"}


@dataclass(frozen=True, eq=False)
class NameList:
    """A list of named colours and their CIELAB coordinates, row i naming row i."""

    names: tuple[str, ...]
    rgb: UInt8Array  # (n, 3) sRGB
    lab: FloatArray  # (n, 3) CIELAB (D65)


@functools.cache
def name_list(which: str) -> NameList:
    """Return the ``"css"`` or ``"xkcd"`` name list, read and converted once.

    Raises
    ------
    ValueError
        If `which` is not a known list.
    """
    if which not in NAME_LISTS:
        raise ValueError(
            f"unknown colour-name list {which!r}; expected one of {', '.join(NAME_LISTS)}"
        )
    text = (
        resources.files("chromapal").joinpath("data", NAME_LISTS[which]).read_text(encoding="utf-8")
    )
    rows = [
        line.split("\t", 1) for line in text.splitlines() if "\t" in line
    ]  # comments have no tab
    rgb = np.array([parse_hex(hex_) for hex_, _ in rows], dtype=np.uint8)
    return NameList(tuple(name for _, name in rows), rgb, lab_from_srgb(rgb))


def nearest_names(colors: ArrayLike, which: str = "css") -> list[str]:
    """Name each colour by the nearest entry (CIEDE2000) of the `which` name list.

    Parameters
    ----------
    colors : array_like of shape (n, 3) or (3,)
        sRGB colours in [0, 255].
    which : {"css", "xkcd"}
        The name list.
    """
    table = name_list(which)
    lab = lab_from_srgb(np.asarray(colors, dtype=np.float64).reshape(-1, 3))
    distances = ciede2000(lab[:, None, :], table.lab[None, :, :])  # (n, names)
    return [table.names[i] for i in np.argmin(distances, axis=1)]


def label_key(label: str) -> str:
    """The identifier form of a label: lower case, runs of other characters as ``-``."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "color"


def unique_labels(labels: Sequence[str]) -> list[str]:
    """Number repeated labels: ``["dimgray", "dimgray", "red"]`` -> ``dimgray, dimgray 2, red``.

    The one naming rule of every palette file: a label whose identifier (`label_key`) is
    already taken gets `` 2``, `` 3`` ... until it is free, so labels (GIMP, ASE, Krita,
    SVG) and identifiers (``--color-dimgray-2`` in CSS, SCSS, Tailwind) match.
    """
    out: list[str] = []
    taken: set[str] = set()
    for label in labels:
        text, n = label, 1
        while label_key(text) in taken:
            n += 1
            text = f"{label} {n}"
        taken.add(label_key(text))
        out.append(text)
    return out


def palette_names(palette: Palette) -> dict[str, list[str]]:
    """Return the nearest names of each palette colour: ``{"css": [...], "xkcd": [...]}``."""
    return {which: nearest_names(palette.colors, which) for which in NAME_LISTS}


def parse_color(text: str) -> tuple[int, int, int]:
    """Parse a CSS colour name (``'white'``) or hex code (``'#f0f0f0'``) into ``(r, g, b)``.

    Raises
    ------
    InvalidColorError
        If `text` is neither.
    """
    key = text.strip().lower().replace(" ", "")
    table = name_list("css")
    if key in table.names:
        r, g, b = table.rgb[table.names.index(key)]
        return int(r), int(g), int(b)
    try:
        return parse_hex(text)
    except InvalidColorError:
        raise InvalidColorError(
            f"{text!r} is not a colour; expected a CSS colour name like 'white' "
            "or a hex code like '#f0f0f0'"
        ) from None
