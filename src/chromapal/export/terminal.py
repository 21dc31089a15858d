"""Terminal colour-scheme files: one writer per terminal, registered in `THEME_TARGETS`.

Writers of the terminals of Linux desktops (GNOME Terminal, Konsole, xfce4-terminal, Tilix,
st, tmux) are in `terminal_linux`; formats other tools read (Alacritty's YAML, base16,
pywal) in `terminal_tools`. Every name is `Theme.scheme_name` (``"<image> dark"`` or
``"<image> light"``), so both schemes of one image install side by side.
"""

from __future__ import annotations

import json
import plistlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from ..theme import ANSI_NAMES, Theme
from . import terminal_linux, terminal_tools
from .text import header_line, toml_string


def _hex(theme: Theme) -> dict[str, str]:
    return theme.hex()


def _header(theme: Theme, comment: str) -> str:
    return header_line(theme.scheme_name, comment)


def write_xresources(theme: Theme) -> str:
    """X resources for ``xrdb -merge`` (xterm, urxvt, st): ``*.background``, ``*.colorN``, ...."""
    h = _hex(theme)
    lines = [
        f"*.background: {h['background']}",
        f"*.foreground: {h['foreground']}",
        f"*.cursorColor: {h['cursor']}",
    ] + [f"*.color{i}: {h[f'color{i}']}" for i in range(16)]
    return _header(theme, "!") + "\n".join(lines) + "\n"


def write_kitty(theme: Theme) -> str:
    """Kitty theme (``include`` it in kitty.conf): ``background``, ``cursor``, ``color0``-``15``."""
    h = _hex(theme)
    lines = [
        f"background {h['background']}",
        f"foreground {h['foreground']}",
        f"cursor {h['cursor']}",
        f"cursor_text_color {h['background']}",
        f"selection_background {h['foreground']}",
        f"selection_foreground {h['background']}",
    ] + [f"color{i} {h[f'color{i}']}" for i in range(16)]
    return _header(theme, "#") + "\n".join(lines) + "\n"


def _toml_table(name: str, values: dict[str, str]) -> str:
    return f"[{name}]\n" + "".join(f"{key} = {toml_string(value)}\n" for key, value in values.items())


def write_alacritty(theme: Theme) -> str:
    """Alacritty TOML for ``[general] import``: colors.primary, .cursor, .normal, .bright."""
    h = _hex(theme)
    normal = {name: h[f"color{i}"] for i, name in enumerate(ANSI_NAMES)}
    bright = {name: h[f"color{i + 8}"] for i, name in enumerate(ANSI_NAMES)}
    tables = [
        _toml_table(
            "colors.primary", {"background": h["background"], "foreground": h["foreground"]}
        ),
        _toml_table("colors.cursor", {"text": h["background"], "cursor": h["cursor"]}),
        _toml_table("colors.normal", normal),
        _toml_table("colors.bright", bright),
    ]
    return _header(theme, "#") + "\n".join(tables)


def write_wezterm(theme: Theme) -> str:
    """WezTerm colour scheme (TOML) for a ``color_scheme_dirs`` folder: colors, metadata."""
    h = _hex(theme)
    ansi = ", ".join(f'"{h[f"color{i}"]}"' for i in range(8))
    brights = ", ".join(f'"{h[f"color{i}"]}"' for i in range(8, 16))
    colors = {
        "background": h["background"],
        "foreground": h["foreground"],
        "cursor_bg": h["cursor"],
        "cursor_border": h["cursor"],
        "cursor_fg": h["background"],
        "selection_bg": h["foreground"],
        "selection_fg": h["background"],
    }
    body = _toml_table("colors", colors) + f"ansi = [{ansi}]\nbrights = [{brights}]\n\n"
    return (
        _header(theme, "#")
        + body
        + _toml_table("metadata", {"name": theme.scheme_name, "author": "chromapal"})
    )


_WT_NAMES: Final = ("black", "red", "green", "yellow", "blue", "purple", "cyan", "white")


def write_windows_terminal(theme: Theme) -> str:
    """Windows Terminal scheme object (add it to ``schemes`` in settings.json)."""
    h = _hex(theme)
    scheme = {
        "name": theme.scheme_name,
        "background": h["background"],
        "foreground": h["foreground"],
        "cursorColor": h["cursor"],
        "selectionBackground": h["foreground"],
    }
    scheme.update({name: h[f"color{i}"] for i, name in enumerate(_WT_NAMES)})
    scheme.update({"bright" + name.title(): h[f"color{i + 8}"] for i, name in enumerate(_WT_NAMES)})
    return json.dumps(scheme, indent=4) + "\n"


def _iterm_color(rgb: tuple[int, int, int]) -> dict[str, object]:
    r, g, b = (c / 255 for c in rgb)
    return {
        "Alpha Component": 1.0,
        "Blue Component": b,
        "Color Space": "sRGB",
        "Green Component": g,
        "Red Component": r,
    }


def write_iterm2(theme: Theme) -> str:
    """iTerm2 ``.itermcolors`` property list (double-click it, or import in Profiles > Colors)."""
    colors = {f"Ansi {i} Color": _iterm_color(c) for i, c in enumerate(theme.ansi)}
    colors.update(
        {
            "Background Color": _iterm_color(theme.background),
            "Foreground Color": _iterm_color(theme.foreground),
            "Bold Color": _iterm_color(theme.foreground),
            "Cursor Color": _iterm_color(theme.cursor),
            "Cursor Text Color": _iterm_color(theme.background),
            "Selection Color": _iterm_color(theme.foreground),
            "Selected Text Color": _iterm_color(theme.background),
        }
    )
    return plistlib.dumps(colors, sort_keys=True).decode()


def write_ghostty(theme: Theme) -> str:
    """Ghostty theme (a file in ``~/.config/ghostty/themes``): ``palette = N=#rrggbb`` lines."""
    h = _hex(theme)
    lines = [f"palette = {i}={h[f'color{i}']}" for i in range(16)]
    lines += [
        f"background = {h['background']}",
        f"foreground = {h['foreground']}",
        f"cursor-color = {h['cursor']}",
        f"cursor-text = {h['background']}",
        f"selection-background = {h['foreground']}",
        f"selection-foreground = {h['background']}",
    ]
    return _header(theme, "#") + "\n".join(lines) + "\n"


def write_foot(theme: Theme) -> str:
    """Foot ``[colors]`` section (``include`` it in foot.ini); values are ``rrggbb``, no ``#``."""
    h = {key: value[1:] for key, value in _hex(theme).items()}
    lines = ["[colors]", f"background={h['background']}", f"foreground={h['foreground']}"]
    lines += [f"regular{i}={h[f'color{i}']}" for i in range(8)]
    lines += [f"bright{i}={h[f'color{i + 8}']}" for i in range(8)]
    lines += ["", "[cursor]", f"color={h['background']} {h['cursor']}"]
    return _header(theme, "#") + "\n".join(lines) + "\n"


def write_shell(theme: Theme) -> str:
    """POSIX shell script recolouring the running terminal with OSC 4/10/11/12 escape sequences."""
    h = _hex(theme)
    lines = ["#!/bin/sh", _header(theme, "#").rstrip(), "# Run it in a terminal: sh theme.sh"]
    lines += [f"printf '\\033]4;{i};{h[f'color{i}']}\\033\\\\'" for i in range(16)]
    lines += [
        f"printf '\\033]10;{h['foreground']}\\033\\\\'",
        f"printf '\\033]11;{h['background']}\\033\\\\'",
        f"printf '\\033]12;{h['cursor']}\\033\\\\'",
    ]
    return "\n".join(lines) + "\n"


_VSCODE_NAMES: Final = ("Black", "Red", "Green", "Yellow", "Blue", "Magenta", "Cyan", "White")


def write_vscode(theme: Theme) -> str:
    """VS Code ``settings.json`` fragment: ``workbench.colorCustomizations`` for the terminal."""
    h = _hex(theme)
    colors = {
        "terminal.background": h["background"],
        "terminal.foreground": h["foreground"],
        "terminalCursor.foreground": h["cursor"],
        "terminalCursor.background": h["background"],
    }
    colors.update({f"terminal.ansi{name}": h[f"color{i}"] for i, name in enumerate(_VSCODE_NAMES)})
    colors.update(
        {f"terminal.ansiBright{name}": h[f"color{i + 8}"] for i, name in enumerate(_VSCODE_NAMES)}
    )
    return json.dumps({"workbench.colorCustomizations": colors}, indent=4) + "\n"


@dataclass(frozen=True)
class ThemeTarget:
    """A terminal whose colour-scheme file chromapal writes: default file name and writer."""

    filename: str
    writer: Callable[[Theme], str]
    description: str


THEME_TARGETS: Final[dict[str, ThemeTarget]] = {
    "xresources": ThemeTarget(
        "colors.Xresources", write_xresources, "X resources (xterm, urxvt, st)"
    ),
    "kitty": ThemeTarget("theme.conf", write_kitty, "kitty"),
    "alacritty": ThemeTarget("theme.toml", write_alacritty, "Alacritty 0.13 and later (TOML)"),
    "alacritty-yaml": ThemeTarget(
        "theme.yml", terminal_tools.write_alacritty_yaml, "Alacritty 0.11 and 0.12 (YAML)"
    ),
    "wezterm": ThemeTarget("chromapal.toml", write_wezterm, "WezTerm colour scheme (TOML)"),
    "windows-terminal": ThemeTarget(
        "scheme.json", write_windows_terminal, "Windows Terminal scheme (JSON)"
    ),
    "iterm2": ThemeTarget("chromapal.itermcolors", write_iterm2, "iTerm2 (.itermcolors plist)"),
    "ghostty": ThemeTarget("chromapal", write_ghostty, "Ghostty theme"),
    "foot": ThemeTarget("colors.ini", write_foot, "foot (ini)"),
    "shell": ThemeTarget("theme.sh", write_shell, "shell script of escape sequences"),
    "vscode": ThemeTarget(
        "settings.json", write_vscode, "VS Code terminal colours (settings fragment)"
    ),
    "gnome-terminal": ThemeTarget(
        "gnome-terminal.sh",
        terminal_linux.write_gnome_terminal,
        "GNOME Terminal (a script adding the profile with dconf)",
    ),
    "konsole": ThemeTarget(
        "chromapal.colorscheme", terminal_linux.write_konsole, "Konsole (.colorscheme)"
    ),
    "xfce4-terminal": ThemeTarget(
        "chromapal.theme", terminal_linux.write_xfce4_terminal, "xfce4-terminal colour scheme"
    ),
    "tilix": ThemeTarget("chromapal.json", terminal_linux.write_tilix, "Tilix scheme (JSON)"),
    "st": ThemeTarget("colors.h", terminal_linux.write_st, "st (config.h colour array)"),
    "tmux": ThemeTarget("colors.tmux.conf", terminal_linux.write_tmux, "tmux status colours"),
    "base16": ThemeTarget(
        "chromapal.yaml", terminal_tools.write_base16, "base16 scheme (tinted-theming YAML)"
    ),
    "pywal": ThemeTarget(
        "colors.json", terminal_tools.write_pywal_json, "pywal colors.json (wal -f FILE)"
    ),
    "pywal-sh": ThemeTarget(
        "colors.sh", terminal_tools.write_pywal_sh, "pywal colors.sh (shell variables)"
    ),
}


def dump_theme(theme: Theme, target: str) -> str:
    """Return `theme` as the text of a `target` file (a key of `THEME_TARGETS`).

    Raises
    ------
    ValueError
        If `target` is unknown.
    """
    if target not in THEME_TARGETS:
        raise ValueError(
            f"unknown theme target {target!r}; expected one of {', '.join(THEME_TARGETS)}"
        )
    return THEME_TARGETS[target].writer(theme)
