"""The palette value: colours with their shares of the image, most dominant first."""

from __future__ import annotations

import html
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np

from ._types import FloatArray, UInt8Array
from .errors import InvalidColorError

if TYPE_CHECKING:
    from PIL.Image import Image as PILImage


def to_hex(rgb: tuple[int, int, int] | UInt8Array) -> str:
    """``(193, 164, 169)`` -> ``'#c1a4a9'``."""
    r, g, b = (int(v) for v in rgb)
    return f"#{r:02x}{g:02x}{b:02x}"


def parse_hex(text: str) -> tuple[int, int, int]:
    """``'#c1a4a9'``, ``'c1a4a9'`` or ``'#cab'`` -> ``(193, 164, 169)``.

    Raises
    ------
    InvalidColorError
        If `text` is not a 3- or 6-digit hex colour.
    """
    digits = text.strip().removeprefix("#")
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    try:
        if len(digits) != 6:
            raise ValueError
        value = int(digits, 16)
    except ValueError:
        raise InvalidColorError(
            f"{text!r} is not a colour; expected a hex code like '#c1a4a9'"
        ) from None
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


def relative_luminance(rgb: tuple[int, int, int] | UInt8Array) -> float:
    """WCAG 2 relative luminance of an sRGB colour, in [0, 1]."""
    c = np.asarray(rgb, dtype=np.float64) / 255.0
    lin = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return float(lin @ np.array([0.2126, 0.7152, 0.0722]))


def text_color_for(rgb: tuple[int, int, int] | UInt8Array) -> str:
    """Black or white, whichever contrasts more with `rgb` (WCAG contrast ratio)."""
    lum = relative_luminance(rgb)
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


def dumps_palettes(data: dict[str, Any] | list[dict[str, Any]]) -> str:
    """JSON for one palette dict or a list of them, indented, with each colour on one line."""
    if isinstance(data, list):
        return "[\n" + ",\n".join(_indent(dumps_palettes(d)) for d in data) + "\n]"
    lines = []
    for key, value in data.items():
        if key == "colors":
            rows = ",\n".join(f"    {json.dumps(c)}" for c in value)
            lines.append(f'  "colors": [\n{rows}\n  ]')
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(lines) + "\n}"


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def _checked_colors(colors: Any) -> UInt8Array:
    """`colors` as a new (n, 3) uint8 array; integers outside 0-255 or other shapes are errors."""
    arr = np.asarray(colors)
    if arr.size == 0:
        return np.zeros((0, 3), np.uint8)
    if arr.ndim != 2 or arr.shape[1] != 3:
        raise ValueError(f"colors must have shape (n, 3) (got {arr.shape})")
    if arr.dtype != np.uint8:
        if (
            arr.dtype.kind not in "iuf"
            or np.any(arr != np.round(arr))
            or np.any((arr < 0) | (arr > 255))
        ):
            raise ValueError(f"colors must be integers from 0 to 255 (got {arr.tolist()})")
    return np.array(arr, dtype=np.uint8)


@dataclass(frozen=True)
class Swatch:
    """One palette colour and the share of the image it covers."""

    rgb: tuple[int, int, int]
    proportion: float

    @property
    def hex(self) -> str:
        """The colour as ``#rrggbb``."""
        return to_hex(self.rgb)


@dataclass(frozen=True, eq=False)
class Palette:
    """An image's colours, most dominant first; immutable.

    Attributes
    ----------
    colors : ndarray of shape (n, 3), uint8
        sRGB colours, ordered by decreasing proportion.
    proportions : ndarray of shape (n,), float64
        Share of the (opaque) image each colour covers; sums to 1.
    source : str or None
        Name of the image the palette came from.
    k : int or None
        Number of colours asked for (``len(palette)`` is smaller only when the
        image has fewer distinct colours; `note` then says so).
    space : str
        Colour space the clustering ran in.
    note : str or None
        Anything the user should know about the result.
    meta : mapping
        Further JSON-ready entries (e.g. ``max_error`` of ``k="auto"``).
    delta_e : float or None
        Mean CIEDE2000 from each opaque pixel of the image to the palette colour it
        belongs to (`chromapal.assign`): the error of the flattened image. ``None`` when
        unknown (a palette read from a file, or changed after it was measured).
    """

    colors: UInt8Array
    proportions: FloatArray
    source: str | None = None
    k: int | None = None
    space: str = "oklab"
    note: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    delta_e: float | None = None

    def __post_init__(self) -> None:
        colors = _checked_colors(self.colors)
        props = np.array(self.proportions, dtype=np.float64).reshape(-1)
        if len(colors) != len(props):
            raise ValueError(f"{len(colors)} colours but {len(props)} proportions")
        if not np.all(np.isfinite(props)) or np.any(props < 0):
            raise ValueError(f"proportions must be finite and non-negative (got {props.tolist()})")
        if self.delta_e is not None:
            delta_e = float(self.delta_e)
            if not (np.isfinite(delta_e) and delta_e >= 0):
                raise ValueError(f"delta_e must be a finite number >= 0 (got {self.delta_e!r})")
            object.__setattr__(self, "delta_e", delta_e)
        colors.setflags(write=False)
        props.setflags(write=False)
        object.__setattr__(self, "colors", colors)
        object.__setattr__(self, "proportions", props)
        object.__setattr__(self, "meta", MappingProxyType(dict(self.meta)))

    def __len__(self) -> int:
        return len(self.colors)

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle by the constructor's arguments (worker processes send palettes back)."""
        fields = (self.colors, self.proportions, self.source, self.k, self.space, self.note)
        return (type(self), (*fields, dict(self.meta), self.delta_e))

    def __iter__(self) -> Iterator[Swatch]:
        return (
            Swatch((int(r), int(g), int(b)), float(p))
            for (r, g, b), p in zip(self.colors, self.proportions, strict=True)
        )

    def __getitem__(self, i: int) -> Swatch:
        (r, g, b), p = self.colors[i], self.proportions[i]
        return Swatch((int(r), int(g), int(b)), float(p))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Palette):
            return NotImplemented
        return (
            np.array_equal(self.colors, other.colors)
            and np.array_equal(self.proportions, other.proportions)
            and (self.source, self.k, self.space, self.note)
            == (other.source, other.k, other.space, other.note)
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        body = ", ".join(f"{s.hex} {s.proportion:.1%}" for s in self)
        return f"Palette([{body}])"

    @property
    def hex(self) -> list[str]:
        """The colours as ``#rrggbb`` strings, most dominant first."""
        return [to_hex(c) for c in self.colors]

    @property
    def swatches(self) -> list[Swatch]:
        """The colours with their proportions, most dominant first."""
        return list(self)

    def to_dict(self, *, names: bool = True) -> dict[str, Any]:
        """Return a JSON-ready dict: what ``chromapal --json`` prints for this palette.

        Keys: ``source``, ``k``, ``space``, ``delta_e`` (when known), ``colors`` (each
        ``hex``, ``rgb``, ``proportion`` and, with `names`, the nearest CSS ``name`` and
        ``xkcd_name``), ``note`` when there is one, and the `meta` entries.
        """
        out: dict[str, Any] = {"source": self.source, "k": self.k, "space": self.space}
        if self.delta_e is not None:
            out["delta_e"] = round(self.delta_e, 4)
        out["colors"] = [
            {"hex": s.hex, "rgb": list(s.rgb), "proportion": s.proportion} for s in self
        ]
        if names and len(self):
            from .names import nearest_names  # the name lists are read on first use

            for entry, css, xkcd in zip(
                out["colors"], nearest_names(self.colors, "css"), nearest_names(self.colors, "xkcd"), strict=True
            ):
                entry["name"] = css
                entry["xkcd_name"] = xkcd
        if self.note:
            out["note"] = self.note
        out.update(self.meta)
        return out

    def to_json(self) -> str:
        """`to_dict` as JSON text, one colour per line."""
        return dumps_palettes(self.to_dict())

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Palette:
        """Rebuild a palette from `to_dict` output (colours may be given by ``hex`` or ``rgb``)."""
        entries = data.get("colors")
        if not isinstance(entries, list):
            raise ValueError("a palette dict needs a 'colors' list (as written by to_dict)")
        colors = [tuple(e["rgb"]) if "rgb" in e else parse_hex(e["hex"]) for e in entries]
        props = [float(e.get("proportion", 1 / len(entries))) for e in entries]
        known = {"source", "k", "space", "colors", "note", "delta_e"}
        delta_e = data.get("delta_e")
        return cls(
            _checked_colors(colors),
            np.array(props),
            source=data.get("source"),
            k=data.get("k"),
            space=data.get("space", "oklab"),
            note=data.get("note"),
            meta={k: v for k, v in data.items() if k not in known},
            delta_e=float(delta_e) if isinstance(delta_e, (int, float)) and not isinstance(delta_e, bool) else None,
        )

    def _repr_html_(self) -> str:
        cells = []
        for s in self:
            fg = text_color_for(s.rgb)
            cells.append(
                f'<div title="{s.hex} {s.proportion:.1%}" '
                f'style="flex:{max(s.proportion, 0.02):.4f} 1 0;'
                f"background:{s.hex};color:{fg};padding:6px 4px;font:12px monospace;"
                f'overflow:hidden;white-space:nowrap">{s.hex}<br>{s.proportion:.1%}</div>'
            )
        caption = html.escape(self.source or "palette")
        return (
            f'<div style="max-width:640px"><div style="font:12px sans-serif;color:#666">{caption} '
            f"&middot; {len(self)} colour{'' if len(self) == 1 else 's'}</div>"
            '<div style="display:flex;height:56px;border-radius:4px;overflow:hidden">'
            f"{''.join(cells)}</div></div>"
        )

    def to_image(
        self, *, width: int = 960, height: int = 160, equal: bool = False, labels: bool = True
    ) -> PILImage:
        """Draw the palette as an RGB PIL image: a strip, each colour as wide as its share.

        Each band is within a pixel of ``share * width`` (all equal with `equal`) and is
        labelled with its hex code and share in black or white, whichever contrasts more.
        See `chromapal.render.swatches`; save it with ``.save("palette.png")``.
        """
        from .render.swatches import swatch_image  # Pillow drawing only when asked for

        return swatch_image(self, width=width, height=height, equal=equal, labels=labels)

    def to_svg(
        self, *, width: int = 960, height: int = 160, equal: bool = False, labels: bool = True
    ) -> str:
        """Draw the strip of `to_image` as SVG text: a ``<rect>`` per colour, hex labels."""
        from .render.swatches import swatch_svg

        return swatch_svg(self, width=width, height=height, equal=equal, labels=labels)
