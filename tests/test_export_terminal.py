"""Terminal scheme files: each parses with its standard parser and holds the theme's colours."""

from __future__ import annotations

import json
import plistlib
import re
import tomllib

import numpy as np
import pytest

from chromapal.export.terminal import THEME_TARGETS, dump_theme
from chromapal.palette import Palette
from chromapal.theme import ANSI_NAMES, Theme, make_theme


@pytest.fixture(scope="module")
def theme() -> Theme:
    """A dark scheme from a red, blue and grey palette."""
    palette = Palette(
        np.array([(180, 40, 40), (40, 60, 170), (120, 120, 120)], np.uint8), [0.5, 0.3, 0.2]
    )
    return make_theme(palette, name="test scheme")


def expected(theme: Theme) -> dict[str, str]:
    """The 19 colours as lower-case hex."""
    return theme.hex()


def test_iterm2_plist_parses_with_plistlib(theme):
    """The .itermcolors file is a plist whose colour components give back the theme's colours."""
    data = plistlib.loads(dump_theme(theme, "iterm2").encode())

    def rgb(entry: dict) -> str:
        assert entry["Color Space"] == "sRGB" and entry["Alpha Component"] == 1
        return "#" + "".join(
            f"{round(entry[f'{c} Component'] * 255):02x}" for c in ("Red", "Green", "Blue")
        )

    h = expected(theme)
    assert [rgb(data[f"Ansi {i} Color"]) for i in range(16)] == [h[f"color{i}"] for i in range(16)]
    assert rgb(data["Background Color"]) == h["background"]
    assert rgb(data["Foreground Color"]) == h["foreground"]
    assert rgb(data["Cursor Color"]) == h["cursor"]


def test_windows_terminal_scheme_parses_with_json(theme):
    """The Windows Terminal scheme is JSON with its documented keys (purple for magenta)."""
    data = json.loads(dump_theme(theme, "windows-terminal"))
    h = expected(theme)
    assert data["name"] == "test scheme"
    assert (data["background"], data["foreground"], data["cursorColor"]) == (
        h["background"],
        h["foreground"],
        h["cursor"],
    )
    names = ["black", "red", "green", "yellow", "blue", "purple", "cyan", "white"]
    assert [data[n] for n in names] == [h[f"color{i}"] for i in range(8)]
    assert [data["bright" + n.title()] for n in names] == [h[f"color{i}"] for i in range(8, 16)]


def test_alacritty_toml_parses_with_tomllib(theme):
    """The Alacritty file is TOML with colors.primary, .cursor, .normal and .bright tables."""
    colors = tomllib.loads(dump_theme(theme, "alacritty"))["colors"]
    h = expected(theme)
    assert colors["primary"] == {"background": h["background"], "foreground": h["foreground"]}
    assert colors["cursor"]["cursor"] == h["cursor"]
    assert [colors["normal"][n] for n in ANSI_NAMES] == [h[f"color{i}"] for i in range(8)]
    assert [colors["bright"][n] for n in ANSI_NAMES] == [h[f"color{i}"] for i in range(8, 16)]


def test_wezterm_toml_parses_with_tomllib(theme):
    """The WezTerm scheme is TOML with colors.ansi and colors.brights arrays and a metadata name."""
    data = tomllib.loads(dump_theme(theme, "wezterm"))
    h = expected(theme)
    assert data["colors"]["ansi"] == [h[f"color{i}"] for i in range(8)]
    assert data["colors"]["brights"] == [h[f"color{i}"] for i in range(8, 16)]
    assert (data["colors"]["background"], data["colors"]["cursor_bg"]) == (
        h["background"],
        h["cursor"],
    )
    assert data["metadata"]["name"] == "test scheme"


def test_vscode_fragment_parses_with_json(theme):
    """The VS Code fragment is JSON under workbench.colorCustomizations with terminal.ansi* keys."""
    colors = json.loads(dump_theme(theme, "vscode"))["workbench.colorCustomizations"]
    h = expected(theme)
    names = ["Black", "Red", "Green", "Yellow", "Blue", "Magenta", "Cyan", "White"]
    assert [colors[f"terminal.ansi{n}"] for n in names] == [h[f"color{i}"] for i in range(8)]
    assert [colors[f"terminal.ansiBright{n}"] for n in names] == [
        h[f"color{i}"] for i in range(8, 16)
    ]
    assert colors["terminal.background"] == h["background"]
    assert colors["terminalCursor.foreground"] == h["cursor"]


def key_values(text: str, pattern: str) -> dict[str, str]:
    """Every `pattern` match (key, value) of a line-based config file, comments skipped."""
    return {m[1]: m[2].lower() for m in re.finditer(pattern, text, re.M)}


def test_xresources_sets_every_resource(theme):
    """X resources: *.background, *.foreground, *.cursorColor and *.color0-15."""
    values = key_values(dump_theme(theme, "xresources"), r"^\*\.(\w+):\s*(#[0-9a-f]{6})$")
    h = expected(theme)
    assert values.pop("cursorColor") == h["cursor"]
    assert values == {k: v for k, v in h.items() if k != "cursor"}


def test_kitty_sets_every_colour(theme):
    """kitty: 'background', 'foreground', 'cursor', 'color0'-'color15' lines."""
    values = key_values(dump_theme(theme, "kitty"), r"^(\w+) (#[0-9a-f]{6})$")
    h = expected(theme)
    assert {k: values[k] for k in h} == h


def test_ghostty_sets_the_palette(theme):
    """Ghostty: 'palette = N=#rrggbb' for 0-15, background, foreground and cursor-color."""
    text = dump_theme(theme, "ghostty")
    h = expected(theme)
    palette = key_values(text, r"^palette = (\d+)=(#[0-9a-f]{6})$")
    assert [palette[str(i)] for i in range(16)] == [h[f"color{i}"] for i in range(16)]
    values = key_values(text, r"^([\w-]+) = (#[0-9a-f]{6})$")
    assert (values["background"], values["foreground"], values["cursor-color"]) == (
        h["background"],
        h["foreground"],
        h["cursor"],
    )


def test_foot_sets_regular_and_bright_colours(theme):
    """foot: a [colors] section with rrggbb values (no '#') for regular0-7 and bright0-7."""
    text = dump_theme(theme, "foot")
    assert "[colors]" in text
    values = key_values(text, r"^(\w+)=([0-9a-f]{6})$")
    h = expected(theme)
    assert [values[f"regular{i}"] for i in range(8)] == [h[f"color{i}"][1:] for i in range(8)]
    assert [values[f"bright{i}"] for i in range(8)] == [h[f"color{i}"][1:] for i in range(8, 16)]
    assert values["background"] == h["background"][1:]
    assert re.search(rf"^color={h['background'][1:]} {h['cursor'][1:]}$", text, re.M)


def test_shell_script_sends_osc_sequences(theme):
    """The shell script sets colours 0-15 with OSC 4 and fg/bg/cursor with OSC 10/11/12."""
    text = dump_theme(theme, "shell")
    assert text.startswith("#!/bin/sh\n")
    h = expected(theme)
    osc4 = key_values(text, r"\\033\]4;(\d+);(#[0-9a-f]{6})\\033")
    assert [osc4[str(i)] for i in range(16)] == [h[f"color{i}"] for i in range(16)]
    osc = key_values(text, r"\\033\](1[012]);(#[0-9a-f]{6})\\033")
    assert osc == {"10": h["foreground"], "11": h["background"], "12": h["cursor"]}


def test_every_target_is_tested():
    """The registry holds exactly the targets tested above."""
    assert set(THEME_TARGETS) == {
        "xresources",
        "kitty",
        "alacritty",
        "wezterm",
        "windows-terminal",
        "iterm2",
        "ghostty",
        "foot",
        "shell",
        "vscode",
    }


def test_unknown_target_is_a_value_error(theme):
    """An unknown target raises ValueError listing the known ones."""
    with pytest.raises(ValueError, match="expected one of xresources, kitty"):
        dump_theme(theme, "konsole")
