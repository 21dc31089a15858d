"""The library's limits, defaults and format names the command options show, without importing the library.

``chromapal SUBCOMMAND -h`` must not import numpy, Pillow or the library's modules
(start-up targets of issue 13), yet the options name these values. Each is copied from
the module that owns it; tests/test_cli_workflows.py checks every copy equals the original, so a
change there fails the suite until it is made here too.
"""

from __future__ import annotations

from typing import Final

#: chromapal.load.MAX_PIXELS
MAX_PIXELS: Final = 89_478_485
#: chromapal.pipeline.MAX_K, MAX_ERROR, INITS
MAX_K: Final = 256
MAX_ERROR: Final = 6.0
INITS: Final = ("median-cut", "kmeans++")
#: chromapal.colorspace.SPACES (names)
SPACES: Final = ("oklab", "cielab", "srgb")
#: chromapal.adjust.SORT_KEYS, IGNORE_TOLERANCE
SORT_KEYS: Final = ("share", "lightness", "hue", "chroma")
IGNORE_TOLERANCE: Final = 10.0
#: chromapal.export.FORMATS (names)
PALETTE_FORMATS: Final = (
    "json", "csv", "txt", "css", "scss", "tailwind", "gpl", "ase", "paintnet", "kpl", "procreate", "svg",
)
#: chromapal.names.NAME_LISTS (names)
NAME_LISTS: Final = ("css", "xkcd")
#: chromapal.export.terminal.THEME_TARGETS (names)
THEME_TARGETS: Final = (
    "xresources", "kitty", "alacritty", "alacritty-yaml", "wezterm", "windows-terminal", "iterm2",
    "ghostty", "foot", "shell", "vscode", "gnome-terminal", "konsole", "xfce4-terminal", "tilix", "st",
    "tmux", "base16", "pywal", "pywal-sh",
)
#: chromapal.render.common.RASTER_FORMATS (extensions), FIGURE_FORMATS
RASTER_FORMATS: Final = ("png", "gif", "webp", "jpg", "jpeg", "bmp", "tif", "tiff")
FIGURE_FORMATS: Final = ("jpeg", "jpg", "pdf", "png", "svg", "webp")
#: chromapal.render.sweep.ANIMATION_FORMATS, DURATION, HOLD, MAX_SIDE
ANIMATION_FORMATS: Final = ("gif",)
SWEEP_DURATION: Final = 700
SWEEP_HOLD: Final = 2000
SWEEP_MAX_SIDE: Final = 800
#: chromapal.store_export.EXPORT_FORMATS
EXPORT_FORMATS: Final = ("csv", "jsonl", "parquet")
#: chromapal.batch.DEFAULT_TIMEOUT
BATCH_TIMEOUT: Final = 30.0

#: Each copy above -> (module, name) of the original; tests compare them.
ORIGINALS: Final = {
    "MAX_PIXELS": ("load", "MAX_PIXELS"),
    "MAX_K": ("pipeline", "MAX_K"),
    "MAX_ERROR": ("pipeline", "MAX_ERROR"),
    "INITS": ("pipeline", "INITS"),
    "SPACES": ("colorspace", "SPACES"),
    "SORT_KEYS": ("adjust", "SORT_KEYS"),
    "IGNORE_TOLERANCE": ("adjust", "IGNORE_TOLERANCE"),
    "PALETTE_FORMATS": ("export", "FORMATS"),
    "NAME_LISTS": ("names", "NAME_LISTS"),
    "THEME_TARGETS": ("export.terminal", "THEME_TARGETS"),
    "RASTER_FORMATS": ("render.common", "RASTER_FORMATS"),
    "FIGURE_FORMATS": ("render.common", "FIGURE_FORMATS"),
    "ANIMATION_FORMATS": ("render.sweep", "ANIMATION_FORMATS"),
    "SWEEP_DURATION": ("render.sweep", "DURATION"),
    "SWEEP_HOLD": ("render.sweep", "HOLD"),
    "SWEEP_MAX_SIDE": ("render.sweep", "MAX_SIDE"),
    "EXPORT_FORMATS": ("store_export", "EXPORT_FORMATS"),
    "BATCH_TIMEOUT": ("batch", "DEFAULT_TIMEOUT"),
}
