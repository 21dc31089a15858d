"""Scheme and palette files loaded by the real programs that read them.

Each test runs the program Debian, PyPI or npm installs (kitty 0.26, foot 1.13, xrdb,
Alacritty 0.11, tmux 3.3, dconf, pywal 3.3, pybase16-builder, the tailwindcss 3.4 CLI)
and skips cleanly when it is missing; `make test` and CI install them all. Programs that
need a display get a private Xvfb server; nothing touches the user's desktop or home.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from chromapal.export import dump_palette
from chromapal.export.terminal import dump_theme
from chromapal.palette import Palette
from chromapal.theme import Theme, make_theme

TIMEOUT = 60


def need(program: str) -> str:
    """The path of `program` (on PATH or beside this Python), or skip the test."""
    path = shutil.which(program) or shutil.which(program, path=str(Path(sys.executable).parent))
    if path is None:
        pytest.skip(f"{program} is not installed")
    return path


@pytest.fixture(scope="module", params=[False, True], ids=["dark", "light"])
def theme(request) -> Theme:
    """A scheme from a red, blue and grey palette (dark and light)."""
    palette = Palette(
        np.array([(180, 40, 40), (40, 60, 170), (120, 120, 120)], np.uint8),
        [0.5, 0.3, 0.2],
        source="/pictures/it's a */ test.png",
    )
    return make_theme(palette, light=request.param, name="consumer test")


@pytest.fixture
def home(tmp_path) -> dict[str, str]:
    """An environment whose home, config, cache and runtime folders are all under tmp_path."""
    dirs = {
        "HOME": tmp_path / "home",
        "XDG_CONFIG_HOME": tmp_path / "home" / ".config",
        "XDG_CACHE_HOME": tmp_path / "home" / ".cache",
        "XDG_DATA_HOME": tmp_path / "home" / ".local" / "share",
        "XDG_RUNTIME_DIR": tmp_path / "run",
    }
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    dirs["XDG_RUNTIME_DIR"].chmod(0o700)
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "TMUX")}
    env.update({k: str(v) for k, v in dirs.items()})
    return env


@contextlib.contextmanager
def xvfb_display(*extra: str) -> Iterator[str]:
    """Start a private Xvfb server (with `extra` arguments); yield its display ``:N``, then stop it."""
    xvfb = need("Xvfb")
    read, write = os.pipe()
    proc = subprocess.Popen(
        [xvfb, "-displayfd", str(write), "-nolisten", "tcp", "-screen", "0", "800x600x24", *extra],
        pass_fds=(write,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number:
            pytest.skip("Xvfb did not start")
        yield f":{number}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def display():
    """A private Xvfb display (``:N``), stopped at the end of the module."""
    with xvfb_display() as number:
        yield number


def run(args: list[str], env: dict[str, str] | None = None, **kw) -> subprocess.CompletedProcess:
    """Run a program with a timeout, capturing its output as text."""
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=TIMEOUT, **kw)


# -- terminals ---------------------------------------------------------------------------------


def test_kitty_loads_the_theme(theme, tmp_path, home):
    """kitty's own config loader reads background, foreground, cursor and color0-15."""
    kitty = need("kitty")
    conf = tmp_path / "theme.conf"
    conf.write_text(dump_theme(theme, "kitty"))
    code = (
        "import sys\nfrom kitty.config import load_config\no = load_config(sys.argv[-1])\n"
        "for n in ['background', 'foreground', 'cursor'] + ['color%d' % i for i in range(16)]:\n"
        "    c = getattr(o, n); print('#%02x%02x%02x' % (c.red, c.green, c.blue))\n"
    )
    result = run([kitty, "+runpy", code, str(conf)], env=home)
    assert result.returncode == 0, result.stderr
    h = theme.hex()
    assert result.stdout.split() == [h["background"], h["foreground"], h["cursor"]] + [
        h[f"color{i}"] for i in range(16)
    ]


def test_foot_checks_the_colours(theme, tmp_path, home):
    """``foot --check-config`` accepts the [colors] file and rejects it with one value broken."""
    foot = need("foot")
    ini = tmp_path / "foot.ini"
    text = dump_theme(theme, "foot")
    ini.write_text(text)
    ok = run([foot, "--check-config", "-c", str(ini)], env=home)
    assert ok.returncode == 0, ok.stderr
    ini.write_text(re.sub(r"regular1=\w+", "regular1=notacolour", text))
    assert run([foot, "--check-config", "-c", str(ini)], env=home).returncode != 0


def test_xrdb_reads_the_resources(theme, tmp_path, home, display):
    """``xrdb -n`` (preprocess, do not load) lists every resource with the theme's colour."""
    xrdb = need("xrdb")
    res = tmp_path / "colors.Xresources"
    res.write_text(dump_theme(theme, "xresources"))
    result = run([xrdb, "-n", str(res)], env={**home, "DISPLAY": display})
    assert result.returncode == 0, result.stderr
    got = dict(re.findall(r"^\*\.(\w+):\s*(#[0-9a-f]{6})$", result.stdout, re.M))
    h = theme.hex()
    assert got == {
        "background": h["background"],
        "foreground": h["foreground"],
        "cursorColor": h["cursor"],
        **{f"color{i}": h[f"color{i}"] for i in range(16)},
    }


def _alacritty(config: Path, env: dict[str, str], display: str) -> str:
    alacritty = need("alacritty")
    result = run(
        [alacritty, "--config-file", str(config), "-vvv", "-e", "true"],
        env={**env, "DISPLAY": display, "LIBGL_ALWAYS_SOFTWARE": "1"},
    )
    return result.stdout + result.stderr


def _alacritty_version() -> tuple[int, ...]:
    out = run([need("alacritty"), "--version"]).stdout
    match = re.search(r"(\d+)\.(\d+)", out)
    return tuple(int(v) for v in match.groups()) if match else (0, 0)


def test_alacritty_011_loads_the_yaml_and_not_the_toml(theme, tmp_path, home, display):
    """Alacritty 0.11 reads the YAML (its log shows our colours); the TOML fails to load there."""
    if _alacritty_version() >= (0, 13):
        pytest.skip("this Alacritty reads TOML; the YAML test is for 0.11 and 0.12")
    yml = tmp_path / "theme.yml"
    yml.write_text(dump_theme(theme, "alacritty-yaml"))
    log = _alacritty(yml, home, display)
    assert "Configuration files loaded from" in log and "ERROR" not in log, log[-2000:]
    # Alacritty derives dim colours from the foreground and colours 0-7 and logs each source.
    seen = {
        "#%02x%02x%02x" % tuple(int(v) for v in m)
        for m in re.findall(r"from Rgb \{ r: (\d+), g: (\d+), b: (\d+) \}", log)
    }
    h = theme.hex()
    assert {h["foreground"], *(h[f"color{i}"] for i in range(8))} <= seen
    toml = tmp_path / "theme.toml"
    toml.write_text(dump_theme(theme, "alacritty"))
    log = _alacritty(toml, home, display)
    assert h["color1"] not in {
        "#%02x%02x%02x" % tuple(int(v) for v in m)
        for m in re.findall(r"from Rgb \{ r: (\d+), g: (\d+), b: (\d+) \}", log)
    }


def test_tmux_applies_the_status_colours(theme, tmp_path, home):
    """tmux sources the file: status, current window and pane borders have the theme's colours."""
    tmux = need("tmux")
    conf = tmp_path / "colors.tmux.conf"
    conf.write_text(dump_theme(theme, "tmux"))
    socket = tmp_path / "tmux.sock"
    base = [tmux, "-S", str(socket), "-f", str(conf)]
    started = run([*base, "new-session", "-d", "sleep 30"], env=home)
    assert started.returncode == 0, started.stderr
    try:
        options = {}
        for name in ("status-style", "window-status-current-style", "pane-border-style"):
            options[name] = run([*base, "show", "-gv", name], env=home).stdout.strip()
    finally:
        run([*base, "kill-server"], env=home)
    h = theme.hex()
    assert options == {
        "status-style": f"bg={h['color4']},fg={h['color15']}",
        "window-status-current-style": f"bg={h['color2']},fg={h['background']},bold",
        "pane-border-style": f"fg={h['color8']}",
    }


def _dconf_session(script: Path, env: dict[str, str], times: int = 1, before: str = "") -> str:
    need("dconf")
    runner = need("dbus-run-session")
    steps = [before] if before else []
    steps += [f"sh {script} >/dev/null"] * times
    steps.append("dconf dump /org/gnome/terminal/")
    result = run([runner, "--", "sh", "-c", " && ".join(steps)], env=env)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_gnome_terminal_profile_lands_in_dconf(theme, tmp_path, home):
    """The script, run twice on a profile list that has another profile, adds one profile."""
    script = tmp_path / "gnome-terminal.sh"
    script.write_text(dump_theme(theme, "gnome-terminal"))
    other = "dconf write /org/gnome/terminal/legacy/profiles:/list \"['b1dcc9dd-5262-4d8d-a863-c897e6d979b9']\""
    dump = _dconf_session(script, home, times=2, before=other)
    (listed,) = re.findall(r"^list=(.*)$", dump, re.M)
    ids = re.findall(r"'([0-9a-f-]{36})'", listed)
    assert len(ids) == 2 and ids[0] == "b1dcc9dd-5262-4d8d-a863-c897e6d979b9"
    section = dump.split(f"[legacy/profiles:/:{ids[1]}]")[1]
    values = dict(re.findall(r"^([\w-]+)=(.*)$", section, re.M))
    h = theme.hex()
    assert values["palette"] == "[" + ", ".join(f"'{h[f'color{i}']}'" for i in range(16)) + "]"
    assert values["background-color"] == f"'{h['background']}'"
    assert values["foreground-color"] == f"'{h['foreground']}'"
    assert values["visible-name"] == f"'{theme.scheme_name}'"
    assert values["use-theme-colors"] == "false"


# -- tools that read schemes -----------------------------------------------------------------


def test_pywal_imports_colors_json_without_touching_the_desktop(theme, tmp_path, home):
    """``wal -f colors.json -n -s -t -e -q`` caches our colours; its colors.sh matches ours."""
    wal = need("wal")
    theme_file = tmp_path / "colors.json"
    theme_file.write_text(dump_theme(theme, "pywal"))
    result = run([wal, "-f", str(theme_file), "-n", "-s", "-t", "-e", "-q"], env=home)
    assert result.returncode == 0, result.stderr
    cache = Path(home["XDG_CACHE_HOME"]) / "wal"
    if not (cache / "colors.json").exists():
        cache = Path(home["HOME"]) / ".cache" / "wal"
    data = json.loads((cache / "colors.json").read_text())
    h = theme.hex()
    assert data["special"] == {k: h[k] for k in ("background", "foreground", "cursor")}
    assert data["colors"] == {f"color{i}": h[f"color{i}"] for i in range(16)}

    def variables(text: str) -> dict[str, str]:
        return dict(re.findall(r"^(\w+)='([^']*)'$", text, re.M))

    theirs, ours = variables((cache / "colors.sh").read_text()), variables(dump_theme(theme, "pywal-sh"))
    assert {k: theirs[k] for k in h} == {k: ours[k] for k in h} == h


def test_pybase16_builder_renders_the_scheme(theme):
    """pybase16-builder's own scheme formatting reads the old layout; a template renders our colours."""
    builder = pytest.importorskip("pybase16_builder.builder")
    pystache = pytest.importorskip("pystache")
    yaml = pytest.importorskip("yaml")
    scheme = yaml.safe_load(dump_theme(theme, "base16"))
    builder.format_scheme(scheme, "consumer-test")
    text = pystache.render("{{scheme-name}} {{base00-hex}} {{base05-hex}} {{base08-rgb-r}}", scheme)
    h = theme.hex()
    assert text == f"{theme.scheme_name} {h['background'][1:]} {h['foreground'][1:]} {theme.ansi[1][0]}"


# -- palette files -----------------------------------------------------------------------------


def test_tailwind_cli_keeps_the_default_colours(tmp_path):
    """tailwindcss 3.4 with the map in theme.extend.colors builds bg-red-500 and the palette classes."""
    tailwind = need("tailwindcss")
    palette = Palette(
        np.array([(255, 0, 0), (128, 128, 128), (255, 192, 203)], np.uint8), [0.4, 0.3, 0.3]
    )
    (tmp_path / "palette.tailwind.json").write_bytes(dump_palette(palette, "tailwind"))
    (tmp_path / "tailwind.config.js").write_text(
        'module.exports = { content: ["./index.html"], '
        'theme: { extend: { colors: require("./palette.tailwind.json") } } };\n'
    )
    (tmp_path / "index.html").write_text(
        '<p class="bg-red-500 text-gray-700 border-pink-300 bg-palette-red text-palette-gray '
        'border-palette-pink"></p>\n'
    )
    (tmp_path / "in.css").write_text("@tailwind utilities;\n")
    result = run(
        [tailwind, "-c", "tailwind.config.js", "-i", "in.css", "-o", "out.css"], cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    css = (tmp_path / "out.css").read_text()
    rules = dict(re.findall(r"\.([\w-]+) \{[^}]*?(rgb\([^)]*\))", css))
    assert rules["bg-red-500"].startswith("rgb(239 68 68")  # Tailwind's own red-500 is kept
    assert rules["text-gray-700"].startswith("rgb(55 65 81")
    assert rules["border-pink-300"].startswith("rgb(249 168 212")
    assert rules["bg-palette-red"].startswith("rgb(255 0 0")
    assert rules["text-palette-gray"].startswith("rgb(128 128 128")
    assert rules["border-palette-pink"].startswith("rgb(255 192 203")


_KEYFILE = """
import sys
import gi
gi.require_version("GLib", "2.0")
from gi.repository import GLib
kf = GLib.KeyFile()
kf.load_from_file(sys.argv[1], GLib.KeyFileFlags.NONE)
for group, key in zip(sys.argv[2::2], sys.argv[3::2]):
    print(kf.get_string(group, key))
"""


def _glib_keyfile(path: Path, *keys: str) -> list[str]:
    """Values of (group, key) pairs as GLib's GKeyFile reads them (the system Python's gi)."""
    python = shutil.which("python3", path="/usr/bin")
    if python is None or run([python, "-c", "import gi"]).returncode != 0:
        pytest.skip("GLib's Python bindings (python3-gi) are not installed")
    result = run([python, "-c", _KEYFILE, str(path), *keys])
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def test_xfce4_terminal_scheme_reads_with_glib_keyfile(theme, tmp_path):
    """The xfce4-terminal .theme is a key file GLib parses: Name, colours and a 16-colour palette."""
    path = tmp_path / "chromapal.theme"
    path.write_text(dump_theme(theme, "xfce4-terminal"))
    keys = ["Scheme", "Name", "Scheme", "ColorBackground", "Scheme", "ColorPalette"]
    name, background, palette = _glib_keyfile(path, *keys)
    h = theme.hex()
    assert (name, background) == (theme.scheme_name, h["background"])
    assert palette.split(";") == [h[f"color{i}"] for i in range(16)]


def test_konsole_colorscheme_reads_with_glib_keyfile(theme, tmp_path):
    """The Konsole .colorscheme is a key file GLib parses: each [ColorN] has Color=R,G,B."""
    path = tmp_path / "chromapal.colorscheme"
    path.write_text(dump_theme(theme, "konsole"))
    keys = [x for i in range(8) for x in (f"Color{i}", "Color", f"Color{i}Intense", "Color")]
    values = _glib_keyfile(path, "General", "Description", "Background", "Color", *keys)
    assert values[0] == theme.scheme_name
    assert values[1] == ",".join(str(c) for c in theme.background)
    assert values[2:] == [",".join(str(c) for c in theme.ansi[j + k]) for j in range(8) for k in (0, 8)]
