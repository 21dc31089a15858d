"""chromapal.cli: extract's output; one-line errors, exit 1 (input) or 2 (usage)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from conftest import BLUE, GREEN, RED, declare_size, encode, png_with_size
from PIL import Image

from chromapal import cli
from chromapal.cli import common
from chromapal.cli.group import BROKEN_PIPE_STATUS, COMMANDS, load_command
from chromapal import fetch as fetch_module

#: Difference allowed between the sum of the printed proportions and 1.
SUM_TOLERANCE = 1e-9
#: Seconds a real `python -m chromapal` run may take.
SUBPROCESS_TIMEOUT = 60
#: Seconds after which a test using the loopback server is failed as hung.
HANG_TIMEOUT = 30
BANDS_TABLE = (
    "#ff0000  rgb(255,   0,   0)   50.0%\n"
    "#00ff00  rgb(  0, 255,   0)   30.0%\n"
    "#0000ff  rgb(  0,   0, 255)   20.0%\n"
)


@pytest.fixture
def files(tmp_path, monkeypatch, bands, photo_files):
    """Fill the working directory with good and bad inputs named by what they are."""
    monkeypatch.chdir(tmp_path)
    Image.fromarray(bands).save("bands.png")
    Image.new("RGBA", (4, 4), (0, 0, 0, 0)).save("clear.png")
    Path("notes.txt").write_text("not an image")
    Path("empty.png").write_bytes(b"")
    Path("folder").mkdir()
    png = photo_files["png"].read_bytes()
    Path("cut.png").write_bytes(png[:2000])
    Path("bomb.png").write_bytes(png_with_size(100_000, 100_000))
    Path("photo.jpg").write_bytes(photo_files["jpg"].read_bytes())
    return tmp_path


def table(text: str) -> str:
    """`text` with each line cut after its percentage (other columns, like names, may follow)."""
    return "".join(
        line.partition("%")[0] + line.partition("%")[1] + "\n" for line in text.splitlines()
    )


def run(*args: str, stdin: bytes | None = None):
    """Invoke the CLI in-process with separate stdout and stderr."""
    return CliRunner().invoke(cli.main, list(args), input=stdin)


def assert_one_line_error(result, line: str, exit_code: int = 1) -> None:
    """Check the run failed with `exit_code`, printed nothing and `line` on stderr."""
    assert (result.exit_code, result.stderr, result.stdout) == (exit_code, f"Error: {line}\n", "")
    assert "Traceback" not in result.output


# -- good input ---------------------------------------------------------------------------


def test_prints_one_line_per_colour(files):
    """A table of hex, RGB and percent, most dominant first, and exit 0."""
    result = run("bands.png", "-k", "3")

    assert (result.exit_code, table(result.stdout), result.stderr) == (0, BANDS_TABLE, "")


def test_extract_command_name_is_optional(files):
    """`chromapal extract IMAGE` and `chromapal IMAGE` print the same."""
    assert run("extract", "bands.png", "-k", "3").stdout == run("bands.png", "--colors", "3").stdout


def test_json_output_parses_and_shares_sum_to_one(files):
    """--json prints one JSON object whose proportions sum to 1."""
    result = run("photo.jpg", "-k", "5", "--json")

    data = json.loads(result.stdout)
    assert result.exit_code == 0
    assert data["source"] == "photo.jpg" and data["k"] == 5 and len(data["colors"]) == 5
    assert abs(sum(c["proportion"] for c in data["colors"]) - 1) < SUM_TOLERANCE
    assert "note" not in data


def test_fewer_colours_than_k_prints_a_note_on_stderr(files):
    """With more colours asked than present: exactly those colours, and a note line on stderr."""
    result = run("bands.png", "-k", "5")

    assert result.exit_code == 0 and table(result.stdout) == BANDS_TABLE
    assert (
        result.stderr == "note: bands.png: the image has only 3 distinct colours, fewer than k=5\n"
    )


def test_fewer_colours_than_k_json_has_a_note_field(files):
    """In JSON the note is a field of the palette."""
    data = json.loads(run("bands.png", "-k", "5", "--json").stdout)

    assert data["note"] == "the image has only 3 distinct colours, fewer than k=5"
    assert [c["hex"] for c in data["colors"]] == ["#ff0000", "#00ff00", "#0000ff"]


def test_stdin_dash_reads_an_image(bands):
    """`-` reads the image from standard input and names it <stdin>."""
    result = run("-", "-k", "3", "--json", stdin=encode(Image.fromarray(bands), "PNG"))

    data = json.loads(result.stdout)
    assert result.exit_code == 0 and data["source"] == "<stdin>"
    assert [c["hex"] for c in data["colors"]] == ["#ff0000", "#00ff00", "#0000ff"]


def test_frames_all_pools_gif_frames(files):
    """--frames all takes colours from every frame of an animated GIF."""
    frames = [Image.new("RGB", (4, 4), c) for c in (RED, GREEN, BLUE)]
    frames[0].save("anim.gif", save_all=True, append_images=frames[1:], duration=50)

    assert (
        run("anim.gif", "-k", "3").stderr
        == "note: anim.gif: the image has only 1 distinct colour, fewer than k=3\n"
    )
    pooled = run("anim.gif", "-k", "3", "--frames", "all", "--json")
    assert sorted(c["hex"] for c in json.loads(pooled.stdout)["colors"]) == [
        "#0000ff",
        "#00ff00",
        "#ff0000",
    ]


def test_several_inputs_print_the_good_ones_and_exit_1(files):
    """Good inputs are still printed when another fails; the status is 1."""
    result = run("bands.png", "nope.png", "bands.png", "-k", "3")

    assert result.exit_code == 1
    assert result.stderr == "Error: nope.png: no such file\n"
    assert table(result.stdout) == f"bands.png  (3 colours, oklab)\n{BANDS_TABLE}" * 2


def test_several_inputs_as_json_list(files):
    """With --json and several inputs a list of the good palettes is printed."""
    result = run("bands.png", "notes.txt", "photo.jpg", "-k", "3", "--json")

    data = json.loads(result.stdout)
    assert result.exit_code == 1 and [d["source"] for d in data] == ["bands.png", "photo.jpg"]


# -- unusable input: exit 1, one line -----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "line"),
    [
        ("nope.png", "nope.png: no such file"),
        ("folder", "folder: is a directory, not an image"),
        ("notes.txt", "notes.txt: not an image (or a format Pillow cannot read)"),
        ("empty.png", "empty.png: empty file, not an image"),
        ("cut.png", "cut.png: the file is truncated (OSError: image file is truncated)"),
        (
            "bomb.png",
            "bomb.png: 10,000,000,000 pixels is over the limit of 89,478,485 "
            "(a decompression-bomb guard; raise it with --max-pixels)",
        ),
        (
            "clear.png",
            "clear.png: every pixel is transparent (alpha below 128); nothing to take colours from",
        ),
    ],
)
def test_unusable_input_is_one_line_and_exit_1(files, name, line):
    """Missing, directory, non-image, empty, truncated, bomb, transparent input: 1 line, exit 1."""
    assert_one_line_error(run(name), line)


def test_corrupt_image_is_one_line_and_exit_1(files, photo_files):
    """A PNG with a damaged chunk exits 1 with one line naming it."""
    data = bytearray(photo_files["png"].read_bytes())
    data[data.index(b"IDAT") + 20] ^= 0xFF
    Path("bad.png").write_bytes(bytes(data))

    result = run("bad.png")

    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("Error: bad.png: ") and result.stderr.count("\n") == 1


def test_max_pixels_option(files):
    """--max-pixels lowers the decompression-bomb limit."""
    assert_one_line_error(
        run("bands.png", "--max-pixels", "99"),
        "bands.png: 10x10 = 100 pixels is over the limit of 99 "
        "(a decompression-bomb guard; raise it with --max-pixels)",
    )
    assert table(run("bands.png", "--max-pixels", "100", "-k", "3").stdout) == BANDS_TABLE


def test_stdin_that_is_not_an_image(files):
    """Non-image or empty standard input is named <stdin>."""
    assert_one_line_error(
        run("-", stdin=b"hello"), "<stdin>: not an image (or a format Pillow cannot read)"
    )
    assert_one_line_error(run("-", stdin=b""), "<stdin>: empty input, not an image")


def test_pillow_warnings_do_not_add_lines(files, photo_files):
    """A damaged TIFF that makes Pillow warn still gives exactly one stderr line."""
    data = photo_files["tif"].read_bytes()
    Path("cut.tif").write_bytes(data[: len(data) // 2])

    result = run("cut.tif")

    assert (
        result.exit_code == 1
        and result.stderr.count("\n") == 1
        and result.stderr.startswith("Error: cut.tif: ")
    )


# -- URLs ---------------------------------------------------------------------------------


@pytest.mark.timeout(HANG_TIMEOUT)
def test_url_input(http_server, monkeypatch, small_photo):
    """A URL prints the palette; bad URLs are one line each, exit 1."""
    monkeypatch.setattr(fetch_module, "URL_TIMEOUT", 0.5)
    monkeypatch.setattr(fetch_module, "URL_MAX_BYTES", 100_000)
    good = f"{http_server}/photo.png"

    result = run(
        good,
        f"{http_server}/page.html",
        f"{http_server}/silent",
        f"{http_server}/endless",
        "-k",
        "2",
    )

    assert result.exit_code == 1
    assert result.stdout.startswith(f"{good}  (2 colours, oklab)\n")
    assert result.stderr.splitlines() == [
        f"Error: {http_server}/page.html: the server sent text/html, not an image",
        f"Error: {http_server}/silent: no answer within 0.5 s",
        f"Error: {http_server}/endless: more than the 100,000-byte limit",
    ]


@pytest.mark.timeout(HANG_TIMEOUT)
def test_unreachable_url(closed_port_url):
    """A URL nobody answers on is one line, exit 1."""
    result = run(closed_port_url)

    assert result.exit_code == 1 and result.stdout == ""
    assert (
        result.stderr.startswith(f"Error: {closed_port_url}: cannot be reached (")
        and result.stderr.count("\n") == 1
    )


# -- usage errors: exit 2 ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (
            ["-k", "0"],
            "Error: Invalid value for '-k' / '--colors' / '--colours': 0 is not in the range 1<=x<=256.",
        ),
        (
            ["-k", "257"],
            "Error: Invalid value for '-k' / '--colors' / '--colours': 257 is not in the range 1<=x<=256.",
        ),
        (
            ["-k", "many"],
            "Error: Invalid value for '-k' / '--colors' / '--colours': 'many' is not a valid integer",
        ),
        (
            ["--space", "xyz"],
            "Error: Invalid value for '--space': 'xyz' is not one of 'cielab', 'oklab', 'srgb', "
            "'lab', 'rgb'.",
        ),
        (
            ["--frames", "some"],
            "Error: Invalid value for '--frames': 'some' is not one of 'first', 'all'.",
        ),
        (
            ["--alpha-threshold", "300"],
            "Error: Invalid value for '--alpha-threshold': 300 is not in the range 0<=x<=255.",
        ),
        (
            ["--max-pixels", "0"],
            "Error: Invalid value for '--max-pixels': 0 is not in the range x>=1.",
        ),
        (["--bogus"], "Error: No such option"),
    ],
)
def test_bad_options_exit_2_naming_the_option(files, args, line):
    """K out of 1..256 and unknown option values are usage errors (exit 2) naming the flag."""
    result = run("bands.png", *args)

    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.splitlines()[-1].startswith(line)
    assert args[0] in result.stderr.splitlines()[-1]
    assert "Traceback" not in result.stderr


def test_no_image_is_a_usage_error():
    """`chromapal extract` without an image exits 2."""
    result = run("extract")

    assert (result.exit_code, result.stderr) == (2, "Error: Missing argument 'IMAGES'.\n")


# -- real processes -----------------------------------------------------------------------


def chromapal(
    *args: str, stdin: bytes | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m chromapal ARGS` in a new process."""
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "chromapal", *args],
        input=stdin,
        capture_output=True,
        timeout=SUBPROCESS_TIMEOUT,
        env=env,
        cwd=cwd,
        check=False,
    )


@pytest.mark.timeout(4 * SUBPROCESS_TIMEOUT)
def test_real_process_good_and_bad_inputs(files):
    """In a real process: the table on stdout, one error line per bad input, exit 1."""
    done = chromapal("bands.png", "cut.png", "notes.txt", "-k", "3", cwd=files)

    assert done.returncode == 1
    assert table(done.stdout.decode()) == f"bands.png  (3 colours, oklab)\n{BANDS_TABLE}"
    assert done.stderr.decode().splitlines() == [
        "Error: cut.png: the file is truncated (OSError: image file is truncated)",
        "Error: notes.txt: not an image (or a format Pillow cannot read)",
    ]


@pytest.mark.timeout(4 * SUBPROCESS_TIMEOUT)
def test_real_process_stdin_and_usage_error(files, bands):
    """In a real process: `-` reads stdin (exit 0), and -k 0 is exit 2 without a traceback."""
    done = chromapal("-", "-k", "3", stdin=encode(Image.fromarray(bands), "PNG"), cwd=files)
    usage = chromapal("bands.png", "-k", "0", cwd=files)

    assert (done.returncode, table(done.stdout.decode()), done.stderr) == (0, BANDS_TABLE, b"")
    assert usage.returncode == 2 and b"Traceback" not in usage.stderr
    assert (
        usage.stderr.decode()
        .splitlines()[-1]
        .startswith("Error: Invalid value for '-k' / '--colors'")
    )


@pytest.mark.timeout(4 * SUBPROCESS_TIMEOUT)
def test_real_process_json_is_deterministic(files):
    """Two processes print byte-identical JSON for the same image and options."""
    runs = [chromapal("photo.jpg", "-k", "6", "--json", "--seed", "7", cwd=files) for _ in range(2)]

    assert runs[0].returncode == 0 and runs[0].stdout == runs[1].stdout
    data = json.loads(runs[0].stdout)
    assert (
        len(data["colors"]) == 6
        and abs(sum(c["proportion"] for c in data["colors"]) - 1) < SUM_TOLERANCE
    )


@pytest.mark.timeout(2 * SUBPROCESS_TIMEOUT)
def test_real_process_hides_libtiff_chatter(files, photo_files):
    """A TIFF declaring more pixels than it holds: libtiff's own stderr output is not shown."""
    data = bytearray(photo_files["tif"].read_bytes())
    declare_size("tif", data, 3000, 2000)
    Path("short.tif").write_bytes(bytes(data))

    done = chromapal("short.tif", cwd=files)

    assert done.returncode == 1 and done.stdout == b""
    assert (
        done.stderr.decode()
        == "Error: short.tif: damaged or incomplete image data (OSError: decoder error -2)\n"
    )


# -- hostile option values, deadlines, closed pipes ----------------------------------------


def float_options() -> list[tuple[str, click.Option]]:
    """(command, option) for every float option of every command, found by walking the CLI."""
    return [
        (name, param)
        for name in sorted(COMMANDS)
        for command in [load_command(name)]
        for param in command.params
        if isinstance(param, click.Option) and isinstance(param.type, click.FloatRange)
    ]


def test_every_float_option_refuses_nan_and_infinity_with_a_usage_error():
    """nan, inf and -inf given to any float option of any command: exit 2, one line naming it."""
    options = float_options()
    flags = {(command, max(option.opts, key=len)) for command, option in options}
    assert {
        ("extract", "--merge"),
        ("extract", "--max-error"),
        ("search", "--max-delta-e"),
        ("batch", "--timeout"),
        ("recolor", "--timeout"),
        ("serve", "--max-upload-mb"),
    } <= flags
    for command, option in options:
        assert isinstance(option.type, common.FiniteFloatRange), (command, option.opts)
        flag = max(option.opts, key=len)
        for value in ("nan", "inf", "-inf", "NaN"):
            result = run(command, flag, value)
            assert result.exit_code == 2, (command, flag, value, result.output)
            assert result.stdout == "" and len(result.stderr.splitlines()) == 1, result.stderr
            assert result.stderr.startswith(f"Error: Invalid value for '{flag}'"), result.stderr
            assert f"{value!r} is not a finite number." in result.stderr, result.stderr


def test_merge_nan_no_longer_collapses_the_palette(files):
    """The issue's case: `--merge nan` is refused before any work (it used to give one colour)."""
    result = run("bands.png", "--merge", "nan")

    assert_one_line_error(result, "Invalid value for '--merge': 'nan' is not a finite number.", 2)


def stalled_stdin_run(*args: str, cwd: Path) -> tuple[subprocess.CompletedProcess[bytes], float]:
    """Run chromapal with a standard input that stays open and silent; return it and its time.

    A producer that never finishes is a hostile input the deadline must cut off.
    """
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "chromapal", *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, cwd=cwd, env={**os.environ, "NO_COLOR": "1"},
    )
    try:
        proc.wait(timeout=SUBPROCESS_TIMEOUT)  # stdin is never written or closed
        seconds = time.monotonic() - started
        out, err = proc.stdout.read(), proc.stderr.read()  # type: ignore[union-attr]
    finally:
        proc.kill()
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err), seconds


@pytest.mark.timeout(SUBPROCESS_TIMEOUT)
def test_timeout_cuts_off_a_stalled_standard_input(files):
    """`chromapal - --timeout 1` fed by a producer that never finishes: one line after a second."""
    done, seconds = stalled_stdin_run("-", "--timeout", "1", cwd=files)

    assert 1 <= seconds < 6
    assert (done.returncode, done.stdout) == (1, b"")
    assert done.stderr.decode() == "Error: <stdin>: took longer than 1 s\n"


@pytest.mark.timeout(SUBPROCESS_TIMEOUT)
def test_timeout_bounds_a_url_download(files, http_server):
    """A server that never answers holds the command for --timeout, not longer."""
    started = time.monotonic()
    result = run(f"{http_server}/silent", "--timeout", "1")

    assert time.monotonic() - started < 4
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(f"Error: {http_server}/silent: ")
    assert result.stderr.count("\n") == 1


def test_files_run_here_unless_a_timeout_is_given(files, monkeypatch):
    """No --timeout or --timeout 0: extracted in this process; --timeout 5: in a child."""
    pids: list[int] = []
    import chromapal.pipeline

    real = chromapal.pipeline.extract
    monkeypatch.setattr(chromapal.pipeline, "extract", lambda *a, **kw: pids.append(os.getpid()) or real(*a, **kw))

    default = run("bands.png", "-k", "3")
    no_limit = run("bands.png", "-k", "3", "--timeout", "0")
    child = run("bands.png", "-k", "3", "--timeout", "5")

    assert (default.exit_code, no_limit.exit_code, child.exit_code) == (0, 0, 0)
    assert default.stdout == no_limit.stdout == child.stdout
    assert pids == [os.getpid()] * 2  # the third call happened in another process


def test_urls_get_the_default_deadline_files_none():
    """The --timeout default: 30 s for a URL, none for a file or standard input; 0 is none."""
    assert common.deadline_for("https://example.org/a.png", None) == common.DEFAULT_TIMEOUT == 30
    assert common.deadline_for("photo.jpg", None) is None
    assert common.deadline_for("-", None) is None
    assert common.deadline_for("https://example.org/a.png", 0) is None
    assert common.deadline_for("photo.jpg", 2.5) == 2.5


def pipe_into_closed_reader(args: list[str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    """Run chromapal with a standard output whose reader has already gone (like `| head -1`)."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE, as after `head -1` exits
    try:
        return subprocess.run(
            [sys.executable, "-m", "chromapal", *args], stdout=write_end, stderr=subprocess.PIPE,
            cwd=cwd, timeout=SUBPROCESS_TIMEOUT, env={**os.environ, "NO_COLOR": "1"}, check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.timeout(4 * SUBPROCESS_TIMEOUT)
def test_a_closed_pipe_ends_quietly(files):
    """`chromapal IMAGE... | head -1`: no message, status 141 as for `git log | head -1`."""
    closed = pipe_into_closed_reader(["bands.png", "photo.jpg", "-k", "3"], files)
    closed_json = pipe_into_closed_reader(["bands.png", "-k", "3", "--json"], files)
    head = subprocess.run(
        f"{sys.executable} -m chromapal {' photo.jpg' * 40} -k 64 | head -1",
        shell=True, cwd=files, capture_output=True, timeout=SUBPROCESS_TIMEOUT, check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )

    assert (closed.returncode, closed.stderr) == (BROKEN_PIPE_STATUS, b"")
    assert (closed_json.returncode, closed_json.stderr) == (BROKEN_PIPE_STATUS, b"")
    assert head.returncode == 0 and head.stderr == b"" and head.stdout.count(b"\n") == 1


@pytest.mark.timeout(4 * SUBPROCESS_TIMEOUT)
def test_no_decoder_chatter_from_any_command(files, photo_files):
    """A TIFF that makes libtiff print: every command still prints one error line, nothing else."""
    data = bytearray(photo_files["tif"].read_bytes())
    declare_size("tif", data, 3000, 2000)
    Path("short.tif").write_bytes(bytes(data))
    line = "Error: short.tif: damaged or incomplete image data (OSError: decoder error -2)\n"
    commands = [
        ["short.tif"],
        ["short.tif", "--timeout", "5"],
        ["swatch", "short.tif", "-o", "s.png"],
        ["pies", "short.tif", "-o", "p.png", "-k", "1-2"],
        ["recolor", "short.tif", "-o", "r.png"],
        ["recolor", "short.tif", "-o", "r.png", "--timeout", "5"],
        ["sweep", "short.tif", "-o", "s.gif", "-k", "2-3"],
        ["report", "short.tif", "-o", "r.html", "--pies", "1-2"],
        ["report", "short.tif", "-o", "r.html", "--pies", "1-2", "--timeout", "5"],
        ["theme", "short.tif", "--preview"],
        ["theme", "short.tif", "--preview", "--timeout", "5"],
        ["pies", "short.tif", "-o", "p.png", "-k", "1-2", "--timeout", "5"],
        ["sweep", "short.tif", "-o", "s.gif", "-k", "2-3", "--timeout", "5"],
    ]
    for args in commands:
        done = chromapal(*args, cwd=files)
        assert (done.returncode, done.stderr.decode()) == (1, line), args
    assert not [p.name for p in files.iterdir() if p.suffix in (".png", ".gif", ".html") and
                p.name.startswith(("s.", "p.", "r."))]
