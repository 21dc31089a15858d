"""Schemes for the terminals of Linux desktops: GNOME Terminal, Konsole, xfce4-terminal, Tilix, st, tmux.

Each follows the file its program reads (checked against GNOME Terminal 3.46, Konsole
22.12, xfce4-terminal 1.0, Tilix 1.9, st 0.9 and tmux 3.3, the versions of Debian 12).
"""

from __future__ import annotations

import json
import uuid
from typing import Final

from ..theme import Theme
from .text import comment_text, gvariant_string, header_line, sh_quote

#: Namespace of the GNOME Terminal profile ids: one image's dark scheme always gets the same id.
_PROFILE_NAMESPACE: Final = uuid.UUID("5b3f2d6e-8c1a-4f0e-9d2b-7a6c5e4f3b21")


def write_gnome_terminal(theme: Theme) -> str:
    """A POSIX shell script that adds (or updates) a GNOME Terminal profile with ``dconf``.

    The profile id is derived from the scheme name, so running the script again updates
    the same profile instead of adding another. Choose the profile in Preferences.
    """
    h = theme.hex()
    profile = uuid.uuid5(_PROFILE_NAMESPACE, theme.scheme_name)
    palette = "[" + ", ".join(f"'{h[f'color{i}']}'" for i in range(16)) + "]"
    settings = {
        "visible-name": gvariant_string(theme.scheme_name),
        "use-theme-colors": "false",
        "background-color": f"'{h['background']}'",
        "foreground-color": f"'{h['foreground']}'",
        "palette": palette,
        "bold-color-same-as-fg": "true",
        "cursor-colors-set": "true",
        "cursor-background-color": f"'{h['cursor']}'",
        "cursor-foreground-color": f"'{h['background']}'",
        "highlight-colors-set": "true",
        "highlight-background-color": f"'{h['foreground']}'",
        "highlight-foreground-color": f"'{h['background']}'",
    }
    lines = [
        "#!/bin/sh",
        header_line(theme.scheme_name, "#").rstrip(),
        "# Adds the scheme as a GNOME Terminal profile: sh gnome-terminal.sh",
        "set -eu",
        "base=/org/gnome/terminal/legacy/profiles:",
        f"id={profile}",
        'list=$(dconf read "$base/list" || true)',
        'case "$list" in',
        '  *"$id"*) ;;',
        "  ''|'[]'|'@as []') dconf write \"$base/list\" \"['$id']\" ;;",
        "  *) dconf write \"$base/list\" \"$(printf '%s' \"$list\" | sed \"s/]\\$/, '$id']/\")\" ;;",
        "esac",
    ]
    lines += [f'dconf write "$base/:$id/{key}" {sh_quote(value)}' for key, value in settings.items()]
    lines.append(f"echo {sh_quote('added the GNOME Terminal profile ' + theme.scheme_name)}")
    return "\n".join(lines) + "\n"


def _konsole_rgb(rgb: tuple[int, int, int]) -> str:
    return ",".join(str(c) for c in rgb)


def write_konsole(theme: Theme) -> str:
    """Konsole ``.colorscheme`` (copy it to ``~/.local/share/konsole/``): INI sections of ``R,G,B``."""
    sections = {
        "Background": theme.background,
        "BackgroundIntense": theme.background,
        "Foreground": theme.foreground,
        "ForegroundIntense": theme.ansi[15],
    }
    for i in range(8):
        sections[f"Color{i}"] = theme.ansi[i]
        sections[f"Color{i}Intense"] = theme.ansi[i + 8]
    out = [header_line(theme.scheme_name, "#").rstrip()]
    for name, rgb in sections.items():
        out += [f"[{name}]", f"Color={_konsole_rgb(rgb)}", ""]
    out += ["[General]", f"Description={comment_text(theme.scheme_name)}", "Opacity=1", "Wallpaper="]
    return "\n".join(out) + "\n"


def write_xfce4_terminal(theme: Theme) -> str:
    """xfce4-terminal colour scheme (``~/.local/share/xfce4/terminal/colorschemes/NAME.theme``)."""
    h = theme.hex()
    lines = [
        header_line(theme.scheme_name, "#").rstrip(),
        "[Scheme]",
        f"Name={comment_text(theme.scheme_name)}",
        f"ColorForeground={h['foreground']}",
        f"ColorBackground={h['background']}",
        f"ColorCursor={h['cursor']}",
        f"ColorCursorForeground={h['background']}",
        "ColorCursorUseDefault=FALSE",
        f"ColorBold={h['foreground']}",
        "ColorBoldUseDefault=FALSE",
        f"ColorSelection={h['foreground']}",
        f"ColorSelectionBackground={h['background']}",
        "ColorSelectionUseDefault=FALSE",
        "ColorPalette=" + ";".join(h[f"color{i}"] for i in range(16)),
    ]
    return "\n".join(lines) + "\n"


def write_tilix(theme: Theme) -> str:
    """Tilix colour scheme JSON (``~/.config/tilix/schemes/NAME.json``)."""
    h = theme.hex()
    scheme = {
        "name": theme.scheme_name,
        "comment": "made by chromapal",
        "use-theme-colors": False,
        "foreground-color": h["foreground"],
        "background-color": h["background"],
        "use-cursor-color": True,
        "cursor-background-color": h["cursor"],
        "cursor-foreground-color": h["background"],
        "use-highlight-color": True,
        "highlight-background-color": h["foreground"],
        "highlight-foreground-color": h["background"],
        "use-badge-color": False,
        "use-bold-color": False,
        "palette": [h[f"color{i}"] for i in range(16)],
    }
    return json.dumps(scheme, indent=4, ensure_ascii=False) + "\n"


def write_st(theme: Theme) -> str:
    """st's colour array and defaults, to replace the ones in ``config.h`` (st 0.9)."""
    h = theme.hex()
    lines = [
        f"/* {comment_text(theme.scheme_name)}: terminal colours made by chromapal */",
        "static const char *colorname[] = {",
        "\t/* 8 normal colors */",
        *(f'\t"{h[f"color{i}"]}",' for i in range(8)),
        "\t/* 8 bright colors */",
        *(f'\t"{h[f"color{i}"]}",' for i in range(8, 16)),
        "\t[255] = 0,",
        "\t/* more colors can be added after 255 to use with DefaultXX */",
        f'\t"{h["cursor"]}", /* 256: cursor */',
        f'\t"{h["background"]}", /* 257: reverse cursor */',
        f'\t"{h["foreground"]}", /* 258: foreground */',
        f'\t"{h["background"]}", /* 259: background */',
        "};",
        "unsigned int defaultfg = 258;",
        "unsigned int defaultbg = 259;",
        "unsigned int defaultcs = 256;",
        "static unsigned int defaultrcs = 257;",
    ]
    return "\n".join(lines) + "\n"


def write_tmux(theme: Theme) -> str:
    """tmux colours (``source-file`` it from tmux.conf), only in pairings the theme keeps readable.

    Status bar: white (15) on blue (4); the current window, messages and copy mode:
    background-coloured text on green (2), yellow (3) and cyan (6); pane borders: colour 8,
    the active one blue. Each pairing is at least 4.5:1 (borders 3:1).
    """
    h = theme.hex()
    bg = h["background"]
    lines = [
        header_line(theme.scheme_name, "#").rstrip(),
        f'set -g status-style "bg={h["color4"]},fg={h["color15"]}"',
        f'set -g window-status-style "bg={h["color4"]},fg={h["color15"]}"',
        f'set -g window-status-current-style "bg={h["color2"]},fg={bg},bold"',
        f'set -g message-style "bg={h["color3"]},fg={bg}"',
        f'set -g message-command-style "bg={h["color3"]},fg={bg}"',
        f'set -g mode-style "bg={h["color6"]},fg={bg}"',
        f'set -g pane-border-style "fg={h["color8"]}"',
        f'set -g pane-active-border-style "fg={h["color4"]}"',
        f'set -g display-panes-active-colour "{h["color4"]}"',
        f'set -g display-panes-colour "{h["color8"]}"',
        f'set -g clock-mode-colour "{h["color4"]}"',
    ]
    return "\n".join(lines) + "\n"
