"""Scheme files other tools read: Alacritty's YAML (0.11, 0.12), base16 and pywal's cache files.

* Alacritty read YAML up to 0.12 (Debian 12 ships 0.11) and TOML from 0.13 on; the TOML
  writer is ``alacritty``, this YAML one ``alacritty-yaml``.
* base16: the tinted-theming scheme (``system: "base16"``, ``palette: {base00: "#..."}``),
  which also carries the older top-level ``scheme``/``author``/``base00: "rrggbb"`` keys so
  builders of either generation read it.
* pywal: ``colors.json`` (``wal -f colors.json`` applies it) and ``colors.sh``, laid out as
  ``wal`` writes them to ``~/.cache/wal`` so its templates and pywalfox-style tools work.
"""

from __future__ import annotations

import json
import os
from typing import Final

import numpy as np

from ..colorspace import oklab_from_srgb, oklab_to_srgb
from ..palette import to_hex
from ..theme import ANSI_NAMES, Theme
from .text import comment_text, header_line, sh_quote


def _yaml_string(text: str) -> str:
    """A YAML double-quoted scalar (JSON's escapes are YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def write_alacritty_yaml(theme: Theme) -> str:
    """Alacritty 0.11/0.12 YAML (``import:`` it from alacritty.yml): colors.primary ... .bright."""
    h = theme.hex()
    lines = [
        header_line(theme.scheme_name, "#").rstrip(),
        "# For Alacritty 0.11 and 0.12; Alacritty 0.13 and later read the TOML (--target alacritty).",
        "colors:",
        "  primary:",
        f"    background: '{h['background']}'",
        f"    foreground: '{h['foreground']}'",
        "  cursor:",
        f"    text: '{h['background']}'",
        f"    cursor: '{h['cursor']}'",
    ]
    for label, offset in (("normal", 0), ("bright", 8)):
        lines.append(f"  {label}:")
        lines += [f"    {name}: '{h[f'color{i + offset}']}'" for i, name in enumerate(ANSI_NAMES)]
    return "\n".join(lines) + "\n"


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> str:
    """Hex of the colour `t` of the way from `a` to `b` in Oklab."""
    lab = oklab_from_srgb(np.array([a, b], np.uint8))
    return to_hex(oklab_to_srgb(lab[0] + t * (lab[1] - lab[0])))


#: base16 slot -> ANSI colour of the theme (base16-shell's mapping: 08 red ... 0E magenta).
_BASE16_ANSI: Final = {
    "base08": 1,
    "base09": 9,
    "base0A": 3,
    "base0B": 2,
    "base0C": 6,
    "base0D": 4,
    "base0E": 5,
    "base0F": 11,
}


def base16_palette(theme: Theme) -> dict[str, str]:
    """The 16 base16 colours: 00-07 from background to white, 08-0F the accent colours.

    base00 is the background, base03 colour 8 (comments, 3:1), base05 the foreground
    (7:1), base07 colour 15; base01, 02, 04 and 06 lie between them in Oklab.
    """
    h = theme.hex()
    bg, fg, grey, white = theme.background, theme.foreground, theme.ansi[8], theme.ansi[15]
    out = {
        "base00": h["background"],
        "base01": _mix(bg, fg, 0.08),
        "base02": _mix(bg, fg, 0.18),
        "base03": h["color8"],
        "base04": _mix(grey, fg, 0.5),
        "base05": h["foreground"],
        "base06": _mix(fg, white, 0.5),
        "base07": h["color15"],
    }
    out.update({key: h[f"color{i}"] for key, i in _BASE16_ANSI.items()})
    return out


def write_base16(theme: Theme) -> str:
    """A base16 scheme in YAML, both the tinted-theming and the older layout."""
    colors = base16_palette(theme)
    lines = [
        header_line(theme.scheme_name, "#").rstrip(),
        'system: "base16"',
        f"name: {_yaml_string(theme.scheme_name)}",
        'author: "chromapal"',
        f'variant: "{theme.kind}"',
        "palette:",
        *(f'  {key}: "{value}"' for key, value in colors.items()),
        "# The same colours for base16 builders that read the older layout:",
        f"scheme: {_yaml_string(theme.scheme_name)}",
        *(f'{key}: "{value[1:]}"' for key, value in colors.items()),
    ]
    return "\n".join(lines) + "\n"


def _wallpaper(theme: Theme) -> str:
    return os.path.abspath(theme.source) if theme.source and theme.source != "<stdin>" else "None"


def write_pywal_json(theme: Theme) -> str:
    """pywal's ``colors.json``: wallpaper, alpha, special (background ...), colors (color0-15)."""
    h = theme.hex()
    data = {
        "checksum": "None",
        "wallpaper": _wallpaper(theme),
        "alpha": "100",
        "special": {
            "background": h["background"],
            "foreground": h["foreground"],
            "cursor": h["cursor"],
        },
        "colors": {f"color{i}": h[f"color{i}"] for i in range(16)},
    }
    return json.dumps(data, indent=4, ensure_ascii=False) + "\n"


def write_pywal_sh(theme: Theme) -> str:
    """pywal's ``colors.sh``: shell variables ``wallpaper``, ``background`` ... ``color15``.

    Source it (``. colors.sh``); like wal's own file it also exports ``FZF_DEFAULT_OPTS``,
    with the selected line in colour 0 on colour 1 (a pairing kept at 4.5:1).
    """
    h = theme.hex()
    lines = [
        f"# {comment_text(theme.scheme_name)}: shell variables made by chromapal, as wal writes them",
        f"wallpaper={sh_quote(_wallpaper(theme))}",
        "",
        "# Special",
        f"background='{h['background']}'",
        f"foreground='{h['foreground']}'",
        f"cursor='{h['cursor']}'",
        "",
        "# Colors",
        *(f"color{i}='{h[f'color{i}']}'" for i in range(16)),
        "",
        "# FZF colors",
        'export FZF_DEFAULT_OPTS="',
        "    $FZF_DEFAULT_OPTS",
        "    --color fg:7,bg:0,hl:1,fg+:0,bg+:1,hl+:15",
        "    --color info:7,prompt:2,spinner:1,pointer:0,marker:1",
        '"',
    ]
    return "\n".join(lines) + "\n"
