"""Palette files: one registry, `FORMATS`, from which the CLI builds its choices and messages.

Each `Format` has a writer ``(palette, labels) -> bytes`` and a reader ``bytes -> Palette``.
Labels are the colours' names (by default the nearest CSS name, see `chromapal.names`).
Formats that carry no shares read back with equal shares.

Which format a path means: ``--format`` (the `fmt` argument) decides; otherwise the
longest registered extension the file name ends with, the first registered format
winning a tie. So ``.txt`` is the plain hex list and ``.json`` chromapal's JSON;
Paint.NET (also ``.txt``) needs ``--format paintnet`` to be written, and is recognised
by its content when a ``.txt`` file is read. ``.tailwind.json`` names the Tailwind map.

Labels follow one rule in every format (`chromapal.names.unique_labels`): a name that
repeats gets `` 2``, `` 3`` ... (``dimgray``, ``dimgray 2``), and identifiers (CSS, SCSS,
Tailwind) are those labels in lower case with ``-`` for spaces (``dimgray-2``).
Formats whose program reads fewer colours than a palette can have (`Format.max_colors`:
Procreate 30, Paint.NET 96) get the first colours only, and `colors_written` says so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ..errors import PaletteError
from ..names import nearest_names, unique_labels
from ..palette import Palette
from . import apps, data, web
from .atomic import write_bytes_atomic

Writer = Callable[[Palette, Sequence[str]], bytes]
Reader = Callable[[bytes], Palette]


class PaletteFileError(PaletteError, ValueError):
    """A palette file could not be read: unknown format, or not laid out as its format says."""


@dataclass(frozen=True)
class Format:
    """A palette file format: extensions (no dot), writer, reader and a one-line description."""

    extensions: tuple[str, ...]
    writer: Writer
    reader: Reader
    description: str
    binary: bool = False
    max_colors: int | None = None  # the most colours the program reads; the rest are left out


FORMATS: Final[dict[str, Format]] = {
    "json": Format(
        ("json",), data.write_json, data.read_json, "chromapal JSON (hex, rgb, share, names)"
    ),
    "csv": Format(("csv",), data.write_csv, data.read_csv, "CSV: hex, r, g, b, proportion, names"),
    "txt": Format(
        ("txt", "hex"), data.write_hex, data.read_hex, "plain list of #rrggbb, one a line"
    ),
    "css": Format(("css",), web.write_css, web.read_css, "CSS custom properties in :root"),
    "scss": Format(("scss",), web.write_scss, web.read_scss, "SCSS variables"),
    "tailwind": Format(
        ("tailwind.json",),
        data.write_tailwind,
        data.read_tailwind,
        "Tailwind-style JSON colour map {name: hex}",
    ),
    "gpl": Format(("gpl",), apps.write_gpl, apps.read_gpl, "GIMP / Inkscape / Krita palette"),
    "ase": Format(
        ("ase",), apps.write_ase, apps.read_ase, "Adobe Swatch Exchange (binary)", binary=True
    ),
    "paintnet": Format(
        ("txt",),
        apps.write_paintnet,
        apps.read_paintnet,
        "Paint.NET palette (.txt, up to 96 colours)",
        max_colors=apps.PAINTNET_MAX,
    ),
    "kpl": Format(("kpl",), apps.write_kpl, apps.read_kpl, "Krita palette (zip)", binary=True),
    "procreate": Format(
        ("swatches",),
        apps.write_procreate,
        apps.read_procreate,
        "Procreate swatches (zip, up to 30 colours)",
        binary=True,
        max_colors=apps.PROCREATE_MAX,
    ),
    "svg": Format(("svg",), web.write_svg, web.read_svg, "SVG swatch strip with labels"),
}


def extensions() -> list[str]:
    """Every extension `format_for_path` understands, sorted."""
    return sorted({ext for fmt in FORMATS.values() for ext in fmt.extensions})


def format_for_path(path: str | Path, fmt: str | None = None) -> str:
    """Return the format name for `path`: `fmt` when given, else by extension (see the module doc).

    Raises
    ------
    PaletteFileError
        If `fmt` is unknown, or it is None and no format has the file's extension.
    """
    if fmt is not None:
        if fmt not in FORMATS:
            raise PaletteFileError(
                f"unknown palette format {fmt!r}; expected one of {', '.join(FORMATS)}"
            )
        return fmt
    name = Path(path).name.lower()
    matches = [
        (len(ext), -i, key)
        for i, (key, f) in enumerate(FORMATS.items())
        for ext in f.extensions
        if name.endswith("." + ext)
    ]
    if not matches:
        raise PaletteFileError(
            f"{Path(path).name}: unknown palette format; expected a file ending in "
            + ", ".join("." + ext for ext in extensions())
        )
    return max(matches)[2]


def palette_labels(palette: Palette, names: str = "css") -> list[str]:
    """Return each colour's label in exported files: its nearest ``"css"`` or ``"xkcd"`` name.

    Repeated names are numbered (``dimgray``, ``dimgray 2``): see the module doc.
    """
    return unique_labels(nearest_names(palette.colors, names)) if len(palette) else []


def written_palette(palette: Palette, fmt: str) -> Palette:
    """The part of `palette` a `fmt` file holds: all of it, or its first `Format.max_colors`."""
    limit = FORMATS[fmt].max_colors
    if limit is None or len(palette) <= limit:
        return palette
    return Palette(
        palette.colors[:limit],
        palette.proportions[:limit],
        source=palette.source,
        k=palette.k,
        space=palette.space,
        note=palette.note,
        meta=palette.meta,
    )


def colors_written(palette: Palette, fmt: str) -> str:
    """``"12 colours"``, or ``"the first 30 of 256 colours (Procreate reads 30)"``."""
    kept = len(written_palette(palette, fmt))
    if kept == len(palette):
        return f"{kept} colour{'' if kept == 1 else 's'}"
    return f"the first {kept} of {len(palette)} colours ({fmt} reads {kept})"


def dump_palette(palette: Palette, fmt: str, *, names: str = "css") -> bytes:
    """Return `palette` as the bytes of a `fmt` file, colours labelled by `names`.

    Raises
    ------
    ValueError
        If `fmt` is not in `FORMATS` or `names` not a name list.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown palette format {fmt!r}; expected one of {', '.join(FORMATS)}")
    palette = written_palette(palette, fmt)
    return FORMATS[fmt].writer(palette, palette_labels(palette, names))


def load_palette(data_: bytes, fmt: str, *, source: str | None = None) -> Palette:
    """Parse the bytes of a `fmt` palette file; `source` names it in messages and the result.

    Raises
    ------
    PaletteFileError
        If the bytes are not a `fmt` file or hold no colour.
    """
    if fmt not in FORMATS:
        raise PaletteFileError(
            f"unknown palette format {fmt!r}; expected one of {', '.join(FORMATS)}"
        )
    if fmt == "txt" and apps.looks_like_paintnet(data_):
        fmt = "paintnet"
    try:
        palette = FORMATS[fmt].reader(data_)
    except PaletteFileError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parse failure is the file's fault
        raise PaletteFileError(
            f"{source or 'palette'}: not a valid {fmt} palette file ({exc})"
        ) from exc
    if len(palette) == 0:
        raise PaletteFileError(f"{source or 'palette'}: the {fmt} file holds no colour")
    return Palette(
        palette.colors,
        palette.proportions,
        source=source,
        k=palette.k,
        space=palette.space,
        note=palette.note,
        meta=palette.meta,
    )


def write_palette(
    palette: Palette, path: str | Path, fmt: str | None = None, *, names: str = "css"
) -> str:
    """Write `palette` to `path` in `fmt` (default: by extension); return the format used.

    The file is written whole or not at all (a temporary file beside it, then renamed).
    """
    fmt = format_for_path(path, fmt)
    write_bytes_atomic(path, dump_palette(palette, fmt, names=names))
    return fmt


def read_palette(path: str | Path, fmt: str | None = None) -> Palette:
    """Read a palette file written by any program in a registered format (default: by extension).

    Raises
    ------
    PaletteFileError
        If the format is unknown or the file is not valid.
    OSError
        If the file cannot be read.
    """
    fmt = format_for_path(path, fmt)
    return load_palette(Path(path).read_bytes(), fmt, source=Path(path).name)
