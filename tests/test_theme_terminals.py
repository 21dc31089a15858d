"""Konsole and xfce4-terminal showing chromapal's schemes: the colours the real programs apply.

Each terminal runs on a private Xvfb server whose screen is a file (``-fbdir``, XWD). A
small script inside the terminal asks for its colours (OSC 4, 10 and 11, answered by the
terminal itself), then prints the 16 ANSI colours as blocks, which are read back from
the screen. Nothing touches the user's desktop, home or session bus.

* Konsole 22.12 loads ``NAME.colorscheme`` from ``$XDG_DATA_HOME/konsole`` for a profile
  naming it (``konsole -p ColorScheme=NAME``). Its OSC 4 answers are its default table,
  not the scheme's, so the 16 colours are checked on the screen only.
* xfce4-terminal 1.0 applies a ``.theme`` preset by setting each preference whose key
  contains "Color" from the file's ``[Scheme]`` group (terminal-preferences-dialog.c,
  ``terminal_preferences_dialog_presets_changed``), the same keys and values it reads
  from ``terminalrc``; the test writes them there, as choosing the preset would.

Each test skips when its program or Xvfb is missing (``make consumers`` installs them).
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from test_real_consumers import home, need, theme, xvfb_display  # noqa: F401  (fixtures)

from chromapal.export.terminal import dump_theme

TIMEOUT = 60
#: Pixels each printed block of one colour covers at least (6 cells by 3 rows of them).
MIN_BLOCK_PIXELS = 200

#: Run inside the terminal: ask for the colours, print the blocks, say so, stay a while.
PROBE = r"""
import os, select, sys, termios, time, tty
out, ready = sys.argv[1], sys.argv[2]
fd = os.open("/dev/tty", os.O_RDWR)
saved = termios.tcgetattr(fd)
tty.setraw(fd)
try:
    os.write(fd, ("".join(f"\033]4;{i};?\007" for i in range(16)) + "\033]10;?\007\033]11;?\007").encode())
    answer, end = b"", time.monotonic() + 10
    while time.monotonic() < end and answer.count(b"rgb:") < 18:
        if select.select([fd], [], [], 0.2)[0]:
            answer += os.read(fd, 4096)
finally:
    termios.tcsetattr(fd, termios.TCSADRAIN, saved)
open(out, "wb").write(answer)
row = lambda first: "".join(f"\033[48;5;{i}m      \033[0m" for i in range(first, first + 8))
sys.stdout.write((row(0) + "\r\n" + row(8) + "\r\n") * 3)
sys.stdout.flush()
open(ready, "w").write("ready")
time.sleep(3)
"""


@pytest.fixture(scope="module")
def screen(tmp_path_factory):
    """A private Xvfb display and the file its screen is kept in: ``(":N", path)``."""
    folder = tmp_path_factory.mktemp("screen")
    with xvfb_display("-fbdir", str(folder)) as number:
        yield number, folder / "Xvfb_screen0"


def screen_colours(path: Path) -> dict[tuple[int, int, int], int]:
    """Pixel count of each colour on an Xvfb screen file (XWD, 24-bit depth in 32-bit pixels)."""
    data = path.read_bytes()
    header = np.frombuffer(data[:100], ">u4")
    size, width, height, byte_order, bits, line, ncolors = (int(header[i]) for i in (0, 4, 5, 7, 11, 12, 19))
    assert bits == 32, "Xvfb was started with -screen 0 WxHx24"
    start = size + 12 * ncolors
    pixels = np.frombuffer(data, np.uint8, count=line * height, offset=start).reshape(height, line)
    pixels = pixels[:, : width * 4].reshape(-1, 4)
    rgb = pixels[:, [2, 1, 0]] if byte_order == 0 else pixels[:, [1, 2, 3]]  # BGRX or XRGB
    colours, counts = np.unique(rgb, axis=0, return_counts=True)
    return {(int(r), int(g), int(b)): int(n) for (r, g, b), n in zip(colours, counts, strict=True)}


def _eight_bit(hex_digits: bytes) -> int:
    return round(int(hex_digits, 16) * 255 / (16 ** len(hex_digits) - 1))


def answered_colours(answer: bytes) -> dict[str, tuple[int, int, int]]:
    """``{"color0": rgb, ..., "foreground": rgb, "background": rgb}`` from OSC 4/10/11 answers."""
    names = {b"10": "foreground", b"11": "background"}
    found = {}
    pattern = rb"\]((?:4;(\d+))|10|11);rgb:([0-9a-fA-F]+)/([0-9a-fA-F]+)/([0-9a-fA-F]+)"
    for match in re.finditer(pattern, answer):
        key = f"color{int(match[2])}" if match[2] else names[match[1]]
        found[key] = tuple(_eight_bit(match[i]) for i in (3, 4, 5))
    return found


def show(command: list[str], env: dict[str, str], screen_file: Path, tmp_path: Path):
    """Run a terminal whose `command` runs PROBE; its answers and the screen's colours."""
    probe, out, ready = tmp_path / "probe.py", tmp_path / "answer", tmp_path / "ready"
    probe.write_text(PROBE)
    proc = subprocess.Popen(
        [*command, sys.executable, str(probe), str(out), str(ready)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        end = time.monotonic() + TIMEOUT
        while not ready.exists() and proc.poll() is None and time.monotonic() < end:
            time.sleep(0.1)
        assert ready.exists(), proc.stderr.read().decode(errors="replace")[-2000:] if proc.poll() else "timed out"
        time.sleep(1.0)  # let the terminal draw the blocks
        colours = screen_colours(screen_file)
        proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return answered_colours(out.read_bytes()), colours


def assert_on_screen(theme, colours: dict) -> None:  # noqa: F811  (a plain argument here)
    """Each of the 16 ANSI colours covers at least one printed block of the screen, exactly."""
    missing = [(i, theme.ansi[i]) for i in range(16) if colours.get(tuple(theme.ansi[i]), 0) < MIN_BLOCK_PIXELS]
    assert missing == []


def test_xfce4_terminal_applies_the_scheme(theme, tmp_path, home, screen):  # noqa: F811
    """xfce4-terminal reports and shows the scheme's 16 colours, foreground and background."""
    program = need("xfce4-terminal")
    display, screen_file = screen
    scheme = dump_theme(theme, "xfce4-terminal").splitlines()
    assert scheme[1] == "[Scheme]"
    keys = [line for line in scheme[2:] if "Color" in line.partition("=")[0]]
    rc = Path(home["XDG_CONFIG_HOME"]) / "xfce4" / "terminal" / "terminalrc"
    rc.parent.mkdir(parents=True)
    rc.write_text("[Configuration]\n" + "\n".join(keys) + "\n")
    env = {**home, "DISPLAY": display}
    answered, colours = show([program, "--disable-server", "-x"], env, screen_file, tmp_path)
    expected = {f"color{i}": theme.ansi[i] for i in range(16)}
    expected.update(foreground=theme.foreground, background=theme.background)
    assert answered == expected
    assert_on_screen(theme, colours)
    assert colours.get(tuple(theme.background), 0) > 100_000  # the window's background


def test_konsole_applies_the_colorscheme(theme, tmp_path, home, screen):  # noqa: F811
    """Konsole loads the .colorscheme: it reports its foreground and background and shows the 16."""
    program = need("konsole")
    display, screen_file = screen
    schemes = Path(home["XDG_DATA_HOME"]) / "konsole"
    schemes.mkdir(parents=True)
    (schemes / "chromapal-test.colorscheme").write_text(dump_theme(theme, "konsole"))
    env = {**home, "DISPLAY": display}
    command = [program, "--nofork", "-p", "ColorScheme=chromapal-test", "-e"]
    answered, colours = show(command, env, screen_file, tmp_path)
    assert answered["foreground"] == theme.foreground
    assert answered["background"] == theme.background
    assert_on_screen(theme, colours)
    assert colours.get(tuple(theme.background), 0) > 100_000
