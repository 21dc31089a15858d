"""chromapal: the colour palette of an image by perceptual k-means.

>>> import chromapal
>>> palette = chromapal.extract("photo.jpg", k=8)   # doctest: +SKIP
>>> palette.hex                                     # doctest: +SKIP
['#c1a4a9', ...]

The public names are imported on first use (module ``__getattr__``), so ``import
chromapal`` - and the ``chromapal`` command's help, which imports it - stays light:
numpy and Pillow arrive with the first palette.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> the module (under chromapal) that defines it.
_EXPORTS = {
    "EmptyImageError": "errors",
    "ImageTimeoutError": "errors",
    "ImageTooLargeError": "errors",
    "InvalidColorError": "errors",
    "PaletteError": "errors",
    "SourceError": "errors",
    "UnreadableImageError": "errors",
    "load_image": "load",
    "Palette": "palette",
    "Swatch": "palette",
    "extract": "pipeline",
    "extract_many": "many",
    "extract_palette": "pipeline",
    "plot_pies": "render",  # matplotlib is imported only when pies are drawn
    "recolor": "render.recolor",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # pragma: no cover - for type checkers and editors only
    from .errors import (
        EmptyImageError,
        ImageTimeoutError,
        ImageTooLargeError,
        InvalidColorError,
        PaletteError,
        SourceError,
        UnreadableImageError,
    )
    from .load import load_image
    from .palette import Palette, Swatch
    from .many import extract_many
    from .pipeline import extract, extract_palette
    from .render import plot_pies
    from .render.recolor import recolor


def __getattr__(name: str) -> Any:
    """Import the module defining public `name` on first use and cache the name here."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'chromapal' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names and the module's own attributes."""
    return sorted({*globals(), *__all__})
