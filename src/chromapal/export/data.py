"""Data formats: chromapal JSON, CSV, a plain hex list and a Tailwind-style colour map."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ..names import label_key, unique_labels
from ..palette import Palette, dumps_palettes, parse_hex

_HEX = re.compile(r"#?([0-9a-fA-F]{6}|[0-9a-fA-F]{3})")


def equal_shares(colors: Sequence[tuple[int, int, int]], **fields: Any) -> Palette:
    """Return a palette of `colors` (file order) with equal shares, for formats without shares."""
    n = len(colors)
    return Palette(
        np.array(colors, dtype=np.uint8).reshape(-1, 3), np.full(n, 1 / max(n, 1)), **fields
    )


def palette_dict(palette: Palette) -> dict[str, Any]:
    """`Palette.to_dict`: with ``delta_e`` and each colour's nearest CSS ``name`` and ``xkcd_name``."""
    return palette.to_dict()


def write_json(palette: Palette, labels: Sequence[str]) -> bytes:
    """Chromapal's JSON: source, k, space, colours with hex, rgb, proportion, name, xkcd_name."""
    return (dumps_palettes(palette_dict(palette)) + "\n").encode()


def read_json(data: bytes) -> Palette:
    """Read chromapal JSON (one palette or a list: the first), or a bare list of hex strings."""
    value = json.loads(data)
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return equal_shares([parse_hex(v) for v in value])
    if isinstance(value, list):
        value = value[0]
    return Palette.from_dict(value)


CSV_FIELDS = ("hex", "r", "g", "b", "proportion", "name", "xkcd_name")


def write_csv(palette: Palette, labels: Sequence[str]) -> bytes:
    """One row per colour under the header ``hex,r,g,b,proportion,name,xkcd_name``."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for entry in palette_dict(palette)["colors"]:
        writer.writerow(
            [
                entry["hex"],
                *entry["rgb"],
                f"{entry['proportion']:.6f}",
                entry["name"],
                entry["xkcd_name"],
            ]
        )
    return out.getvalue().encode()


def read_csv(data: bytes) -> Palette:
    """Read a CSV with a ``hex`` column or ``r,g,b`` columns, and optionally ``proportion``."""
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    colors = [
        parse_hex(row["hex"]) if row.get("hex") else (int(row["r"]), int(row["g"]), int(row["b"]))
        for row in rows
    ]
    if rows and all(row.get("proportion") for row in rows):
        return Palette(
            np.array(colors, dtype=np.uint8), np.array([float(row["proportion"]) for row in rows])
        )
    return equal_shares(colors)


def write_hex(palette: Palette, labels: Sequence[str]) -> bytes:
    """One ``#rrggbb`` a line, nothing else (so other tools can read it line by line)."""
    return "".join(f"{h}\n" for h in palette.hex).encode()


def read_hex(data: bytes) -> Palette:
    """Read one hex colour a line (``#`` optional); skip blank lines and ``;``/``//`` comments."""
    colors = []
    for line in data.decode("utf-8-sig").splitlines():
        text = line.strip()
        if not text or text.startswith((";", "//")):
            continue
        colors.append(parse_hex(text.split()[0]))
    return equal_shares(colors)


def slugs(labels: Sequence[str]) -> list[str]:
    """Make labels identifiers: ``'dark olive green'`` -> ``'dark-olive-green'``.

    Repeats are numbered by the one naming rule, `chromapal.names.unique_labels`
    (``dimgray``, ``dimgray-2``), whether or not the labels were numbered already.
    """
    return [label_key(label) for label in unique_labels(labels)]


#: The one key of the Tailwind map: ``theme.extend.colors`` gains ``palette-*`` colours and
#: keeps every default colour (``red``, ``gray`` ...).
TAILWIND_KEY = "palette"


def write_tailwind(palette: Palette, labels: Sequence[str]) -> bytes:
    """Write ``{"palette": {"name": "#rrggbb"}}`` for Tailwind's ``theme.extend.colors``.

    Classes are ``bg-palette-NAME``, ``text-palette-NAME`` ...: namespaced, so extending
    Tailwind's colours never replaces a default scale such as ``red`` or ``gray``.
    """
    colors = {TAILWIND_KEY: dict(zip(slugs(labels), palette.hex, strict=True))}
    return (json.dumps(colors, indent=2) + "\n").encode()


def _hex_values(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _hex_values(item)
    elif isinstance(value, str) and _HEX.fullmatch(value.strip()):
        yield value


def read_tailwind(data: bytes) -> Palette:
    """Read the hex strings of a colour map (maybe nested: ``{"red": {"500": ...}}``), in order."""
    return equal_shares([parse_hex(v) for v in _hex_values(json.loads(data))])
