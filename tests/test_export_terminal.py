"""Terminal scheme files: each parses with its standard parser and holds the theme's colours."""

from __future__ import annotations

import configparser
import json
import os
import plistlib
import re
import shutil
import subprocess
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
    assert data["name"] == "test scheme dark"
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
    assert data["metadata"]["name"] == "test scheme dark"


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
        "alacritty-yaml",
        "gnome-terminal",
        "konsole",
        "xfce4-terminal",
        "tilix",
        "st",
        "tmux",
        "base16",
        "pywal",
        "pywal-sh",
    }


def test_unknown_target_is_a_value_error(theme):
    """An unknown target raises ValueError listing the known ones."""
    with pytest.raises(ValueError, match="expected one of xresources, kitty"):
        dump_theme(theme, "konsole-2")


# -- the terminals of Linux desktops and the formats other tools read -------------------------


def test_alacritty_yaml_parses_with_a_yaml_parser(theme):
    """The YAML for Alacritty 0.11/0.12 has the same colours as the TOML, under the same keys."""
    yaml = pytest.importorskip("yaml")
    colors = yaml.safe_load(dump_theme(theme, "alacritty-yaml"))["colors"]
    assert colors == tomllib.loads(dump_theme(theme, "alacritty"))["colors"]


def test_konsole_colorscheme_parses_as_ini(theme):
    """Konsole: [Background], [Foreground], [ColorN] and [ColorNIntense] of R,G,B; a description."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.optionxform = str
    ini.read_string(dump_theme(theme, "konsole"))

    def rgb(section: str) -> tuple[int, ...]:
        return tuple(int(v) for v in ini[section]["Color"].split(","))

    assert rgb("Background") == theme.background and rgb("Foreground") == theme.foreground
    assert [rgb(f"Color{i}") for i in range(8)] == list(theme.ansi[:8])
    assert [rgb(f"Color{i}Intense") for i in range(8)] == list(theme.ansi[8:])
    assert ini["General"]["Description"] == "test scheme dark"


def test_xfce4_terminal_scheme_parses_as_ini(theme):
    """xfce4-terminal: [Scheme] with Name, ColorForeground/Background/Cursor, ColorPalette of 16."""
    ini = configparser.ConfigParser(interpolation=None)
    ini.optionxform = str
    ini.read_string(dump_theme(theme, "xfce4-terminal"))
    scheme, h = ini["Scheme"], expected(theme)
    assert scheme["Name"] == "test scheme dark"
    assert scheme["ColorPalette"].split(";") == [h[f"color{i}"] for i in range(16)]
    assert (scheme["ColorBackground"], scheme["ColorForeground"], scheme["ColorCursor"]) == (
        h["background"],
        h["foreground"],
        h["cursor"],
    )


def test_tilix_scheme_parses_with_json(theme):
    """Tilix: JSON with name, palette of 16, foreground/background and use-theme-colors false."""
    data, h = json.loads(dump_theme(theme, "tilix")), expected(theme)
    assert data["name"] == "test scheme dark" and data["use-theme-colors"] is False
    assert data["palette"] == [h[f"color{i}"] for i in range(16)]
    assert (data["background-color"], data["foreground-color"]) == (h["background"], h["foreground"])


def test_st_colour_array_compiles_and_holds_the_colours(theme, tmp_path):
    """st: the colorname array and defaults compile as C (gcc) and index as st indexes them."""
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.skip("no C compiler")
    (tmp_path / "colors.h").write_text(dump_theme(theme, "st"))
    (tmp_path / "main.c").write_text(
        '#include <stdio.h>\n#include "colors.h"\n'
        "int main(void) {\n"
        '  for (int i = 0; i < 16; i++) printf("%s\\n", colorname[i]);\n'
        '  printf("%s\\n%s\\n%s\\n", colorname[defaultfg], colorname[defaultbg], colorname[defaultcs]);\n'
        '  printf("%s\\n", colorname[defaultrcs]);\n'
        "  return 0;\n}\n"
    )
    subprocess.run([cc, "-Wall", "-Werror", "-o", "main", "main.c"], cwd=tmp_path, check=True)
    out = subprocess.run([str(tmp_path / "main")], capture_output=True, text=True, check=True)
    h = expected(theme)
    assert out.stdout.split() == [h[f"color{i}"] for i in range(16)] + [
        h["foreground"],
        h["background"],
        h["cursor"],
        h["background"],
    ]


def test_st_comment_cannot_be_ended_by_the_name():
    """A scheme name with */ stays inside st's C comment (the file still compiles alone)."""
    palette = Palette(np.array([(200, 60, 60)], np.uint8), [1.0])
    text = dump_theme(make_theme(palette, name="evil */ int x = 1; /*"), "st")
    assert "int x" in text and re.sub(r"/\*.*?\*/", "", text, flags=re.S).count("int x") == 0


def test_tmux_conf_uses_only_readable_pairings(theme):
    """tmux: status white on blue, current window background-colour on green, borders colour 8."""
    h = expected(theme)
    text = dump_theme(theme, "tmux")
    styles = dict(re.findall(r'^set -g ([\w-]+) "([^"]*)"$', text, re.M))
    assert styles["status-style"] == f"bg={h['color4']},fg={h['color15']}"
    assert styles["window-status-current-style"] == f"bg={h['color2']},fg={h['background']},bold"
    assert styles["pane-border-style"] == f"fg={h['color8']}"


def test_base16_scheme_has_both_layouts(theme):
    """base16: tinted-theming keys (system, name, variant, palette base00-0F with #) and the old ones."""
    yaml = pytest.importorskip("yaml")
    data, h = yaml.safe_load(dump_theme(theme, "base16")), expected(theme)
    assert data["system"] == "base16" and data["variant"] == "dark"
    assert data["name"] == data["scheme"] == "test scheme dark"
    palette = data["palette"]
    assert list(palette) == [f"base0{c}" for c in "0123456789ABCDEF"]
    assert all(data[key] == value[1:] for key, value in palette.items())
    assert (palette["base00"], palette["base05"], palette["base08"], palette["base0D"]) == (
        h["background"],
        h["foreground"],
        h["color1"],
        h["color4"],
    )


def test_pywal_json_and_sh_carry_the_theme(theme):
    """pywal: colors.json with special and colors, colors.sh with the same shell variables."""
    data, h = json.loads(dump_theme(theme, "pywal")), expected(theme)
    assert data["special"] == {k: h[k] for k in ("background", "foreground", "cursor")}
    assert data["colors"] == {f"color{i}": h[f"color{i}"] for i in range(16)}
    variables = dict(re.findall(r"^(\w+)='([^']*)'$", dump_theme(theme, "pywal-sh"), re.M))
    assert {k: variables[k] for k in h} == h


def test_gnome_terminal_script_writes_the_profile(theme, tmp_path):
    """The GNOME Terminal script, run with a stand-in dconf, writes the palette and adds the id."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "dconf.log"
    fake = bin_dir / "dconf"
    fake.write_text(
        '#!/bin/sh\nif [ "$1" = read ]; then echo "[\'other\']"; exit 0; fi\n'
        f'printf "%s\\t%s\\n" "$2" "$3" >> {log}\n'
    )
    fake.chmod(0o755)
    script = tmp_path / "g.sh"
    script.write_text(dump_theme(theme, "gnome-terminal"))
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    subprocess.run(["sh", str(script)], env=env, check=True, capture_output=True)
    writes = dict(line.split("\t", 1) for line in log.read_text().splitlines())
    base = "/org/gnome/terminal/legacy/profiles:"
    (profile_id,) = re.findall(r"'other', '([0-9a-f-]{36})'\]", writes[f"{base}/list"])
    prefix = f"{base}/:{profile_id}/"
    h = expected(theme)
    assert writes[prefix + "palette"] == "[" + ", ".join(f"'{h[f'color{i}']}'" for i in range(16)) + "]"
    assert writes[prefix + "background-color"] == f"'{h['background']}'"
    assert writes[prefix + "visible-name"] == "'test scheme dark'"
    assert writes[prefix + "use-theme-colors"] == "false"


def test_dark_and_light_schemes_have_distinct_names():
    """Installing both schemes of one image never collides: every named target differs."""
    palette = Palette(np.array([(200, 60, 60), (30, 30, 90)], np.uint8), [0.5, 0.5])
    dark, light = make_theme(palette, name="pic"), make_theme(palette, name="pic", light=True)
    for target in ("windows-terminal", "wezterm", "konsole", "xfce4-terminal", "tilix", "base16"):
        assert dump_theme(dark, target) != dump_theme(light, target)
    assert (dark.scheme_name, light.scheme_name) == ("pic dark", "pic light")
    assert json.loads(dump_theme(light, "windows-terminal"))["name"] == "pic light"


@pytest.mark.parametrize("target", sorted(THEME_TARGETS))
def test_a_hostile_name_never_adds_a_line(target):
    """A name with newlines, quotes, */ and --> gives a file of as many lines as a plain name."""
    palette = Palette(np.array([(200, 60, 60)], np.uint8), [1.0], source="/tmp/x\n'*/.png")
    plain = dump_theme(make_theme(palette, name="plain"), target)
    hostile = "a\n*.background: #ffffff\r\n' \"; */ --> ]]> \\ $(id) `id`\x00"
    text = dump_theme(make_theme(palette, name=hostile), target)
    assert len(text.splitlines()) == len(plain.splitlines())
    assert "\n*.background: #ffffff" not in text and "\x00" not in text


@pytest.mark.parametrize("target", ["shell", "gnome-terminal", "pywal-sh"])
def test_shell_targets_never_run_a_name_or_path(target, tmp_path):
    """Scripts with a name and image path holding shell syntax run without running any of it."""
    marker = tmp_path / "pwned"
    evil = f"x' \"; touch {marker}; echo ' $(touch {marker}) `touch {marker}`"
    palette = Palette(np.array([(200, 60, 60)], np.uint8), [1.0], source=f"/tmp/{evil}.png")
    script = tmp_path / "s.sh"
    script.write_text(dump_theme(make_theme(palette, name=evil), target))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dconf").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "dconf").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    command = ["sh", "-c", f". {script}"] if target == "pywal-sh" else ["sh", str(script)]
    subprocess.run(command, env=env, check=True, capture_output=True)
    assert not marker.exists()
