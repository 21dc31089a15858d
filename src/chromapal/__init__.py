"""chromapal: the colour palette of an image by perceptual k-means.

>>> import chromapal
>>> palette = chromapal.extract("photo.jpg", k=8)   # doctest: +SKIP
>>> palette.hex                                     # doctest: +SKIP
['#c1a4a9', ...]
"""

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
from .pipeline import extract, extract_palette
from .render import plot_pies  # matplotlib is imported only when pies are drawn
from .render.recolor import recolor

__all__ = [
    "EmptyImageError",
    "ImageTimeoutError",
    "ImageTooLargeError",
    "InvalidColorError",
    "Palette",
    "PaletteError",
    "SourceError",
    "Swatch",
    "UnreadableImageError",
    "extract",
    "extract_palette",
    "load_image",
    "plot_pies",
    "recolor",
]
__version__ = "0.1.0"
