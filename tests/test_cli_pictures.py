"""chromapal swatch, pies, recolor, sweep, report: the files' pixels, and one-line errors."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from chromapal import cli, extract

THREE = [(230, 57, 70), (29, 53, 87), (241, 250, 238)]


def three_flat() -> np.ndarray:
    """30x20 RGB: three flat colour regions covering 40 %, 24 % and 36 %."""
    image = np.empty((20, 30, 3), np.uint8)
    image[:, :12] = THREE[0]
    image[:8, 12:] = THREE[1]
    image[8:, 12:] = THREE[2]
    return image


def gradient(width: int = 48, height: int = 32) -> np.ndarray:
    """Make a colourful gradient with many distinct colours."""
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack(
        [x * 255 // width, y * 255 // height, (x + y) * 127 // (width + height)]
    ).astype(np.uint8)


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """Work in a folder holding flat.png (3 colours) and ramp.png (a gradient)."""
    monkeypatch.chdir(tmp_path)
    Image.fromarray(three_flat()).save("flat.png")
    Image.fromarray(gradient()).save("ramp.png")
    return tmp_path


def run(*args: str):
    """Invoke the chromapal command line in-process."""
    return CliRunner().invoke(cli.main, list(args))


def test_recolor_gives_a_three_colour_image_back_unchanged_as_an_indexed_png(workdir):
    """Recolor -k 3 of a 3-colour image writes a palette-mode PNG with exactly the same pixels."""
    result = run("recolor", "flat.png", "-k", "3", "-o", "out.png")
    assert result.exit_code == 0, result.output
    with Image.open("out.png") as out:
        assert out.mode == "P"
        assert np.array_equal(np.asarray(out.convert("RGB")), three_flat())


def test_recolor_keeps_size_and_uses_only_palette_colours(workdir):
    """The recoloured gradient has its original size and only the k palette colours."""
    assert run("recolor", "ramp.png", "-k", "5", "-o", "out.png", "--dither").exit_code == 0
    with Image.open("out.png") as out:
        rgb = np.asarray(out.convert("RGB"))
    assert rgb.shape == gradient().shape
    assert {tuple(c) for c in rgb.reshape(-1, 3)} <= set(map(tuple, extract("ramp.png", 5).colors))


@pytest.mark.parametrize("kind", ["json", "gpl", "image"])
def test_recolor_with_a_palette_from_another_file(workdir, kind):
    """--palette takes a JSON palette, a GIMP .gpl or another image's colours."""
    if kind == "json":
        Path("p.json").write_text(json.dumps({"colors": [{"hex": "#000000"}, {"hex": "#ffffff"}]}))
        name = "p.json"
    elif kind == "gpl":
        Path("p.gpl").write_text(
            "GIMP Palette\nName: bw\n#\n  0   0   0\tblack\n255 255 255\twhite\n"
        )
        name = "p.gpl"
    else:
        Image.fromarray(np.array([[[0, 0, 0], [255, 255, 255]]], np.uint8)).save("bw.png")
        name = "bw.png"
    result = run("recolor", "flat.png", "--palette", name, "-k", "2", "-o", "out.png")
    assert result.exit_code == 0, result.output
    with Image.open("out.png") as out:
        rgb = np.asarray(out.convert("RGB"))
    assert (rgb[:8, 12:] == 0).all() and (rgb[8:, 12:] == 255).all()


def test_swatch_png_widths_match_the_shares(workdir):
    """Swatch writes a strip whose bands are each within a pixel of share x width."""
    assert (
        run(
            "swatch", "flat.png", "-k", "3", "-o", "s.png", "--width", "500", "--height", "60"
        ).exit_code
        == 0
    )
    row = np.asarray(Image.open("s.png").convert("RGB"))[0]
    colors, counts = np.unique(row, axis=0, return_counts=True)
    widths = {tuple(c): int(n) for c, n in zip(colors, counts, strict=True)}
    assert widths == pytest.approx({THREE[0]: 200, THREE[1]: 120, THREE[2]: 180}, abs=1)


def test_swatch_svg_and_equal_widths(workdir):
    """Swatch -o .svg writes one rect per colour; --equal makes them equally wide."""
    assert (
        run("swatch", "flat.png", "-k", "3", "-o", "s.svg", "--equal", "--width", "300").exit_code
        == 0
    )
    rects = ET.parse("s.svg").getroot().findall("{http://www.w3.org/2000/svg}rect")
    assert [float(r.get("width")) for r in rects] == pytest.approx([100, 100, 100])


def test_pies_grid_and_separate_files(workdir):
    """Pies writes a grid; --separate writes one file per k, named by k."""
    assert run("pies", "ramp.png", "--k", "1-4", "-o", "p.png").exit_code == 0
    with Image.open("p.png") as grid:
        assert grid.width > 3 * grid.height  # 4 pies in one row
    assert (
        run("pies", "ramp.png", "-k", "2,5", "--separate", "each", "--format", "svg").exit_code == 0
    )
    assert sorted(os.listdir("each")) == ["pie-k02.svg", "pie-k05.svg"]


def test_sweep_gif_has_a_frame_per_k_and_the_original(workdir):
    """Sweep writes one frame per k plus the original, with the requested durations."""
    result = run(
        "sweep",
        "ramp.png",
        "--k",
        "2-4",
        "-o",
        "s.gif",
        "--duration",
        "300",
        "--hold",
        "900",
        "--no-loop",
    )
    assert result.exit_code == 0, result.output
    with Image.open("s.gif") as gif:
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
        assert gif.size == (48, 32) and "loop" not in gif.info
    assert durations == [300, 300, 300, 900]


def test_report_lists_every_hex_code(workdir):
    """Report writes one HTML page with every hex code and embedded images."""
    assert run("report", "flat.png", "-k", "3", "--pies", "1-3", "-o", "r.html").exit_code == 0
    page = Path("r.html").read_text()
    assert all(h in page for h in ["#e63946", "#1d3557", "#f1faee"])
    assert page.count('src="data:image/') == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["swatch", "flat.png", "-o", "s.xyz"],
            "s.xyz: unknown output format 'xyz'; expected one of "
            "bmp, gif, jpeg, jpg, png, svg, tif, tiff, webp",
        ),
        (
            ["recolor", "flat.png", "-o", "nowhere/out.png"],
            "nowhere/out.png: folder 'nowhere' does not exist",
        ),
        (
            ["recolor", "flat.png", "-o", "flat.png"],
            "flat.png: refusing to overwrite the input image",
        ),
        (
            ["pies", "flat.png", "--k", "5-2", "-o", "p.png"],
            "Invalid value for '-k' / '--k': '5-2' runs backwards; write it as '2-5'",
        ),
        (
            ["sweep", "flat.png", "--k", "2-999", "-o", "s.gif"],
            "Invalid value for '-k' / '--k': '2-999' has k outside 1-256; "
            "expected k values from 1 to 256 "
            "like '1-10' or '2,4,8'",
        ),
        (
            ["sweep", "flat.png", "-o", "s.png"],
            "s.png: unknown output format 'png'; expected one of gif",
        ),
        (["pies", "flat.png"], "give either -o/--output FILE|DIR or --separate DIR"),
        (["report", "flat.png"], "Missing option '-o' / '--output'."),
    ],
)
def test_usage_errors_are_one_line_with_status_2(workdir, args, message):
    """Unknown extension, missing folder, the input as output, bad k range: one line, exit 2."""
    result = run(*args)
    assert result.exit_code == 2
    assert result.output == f"Error: {message}\n"


def test_unwritable_folder_is_a_usage_error(workdir, monkeypatch):
    """A folder without write permission is refused before any work, exit 2."""
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode, **kw: mode != os.W_OK and real_access(p, mode, **kw)
    )
    Path("locked").mkdir()
    result = run("swatch", "flat.png", "-o", "locked/s.png")
    assert result.exit_code == 2
    assert result.output == "Error: locked/s.png: folder 'locked' is not writable\n"
    assert not Path("locked/s.png").exists()


def test_input_problems_are_one_line_with_status_1(workdir):
    """An input that is not an image exits 1 with one line naming it; nothing is written."""
    Path("notes.txt").write_text("not an image")
    result = run("recolor", "notes.txt", "-o", "out.png")
    assert result.exit_code == 1
    assert result.output == "Error: notes.txt: not an image (or a format Pillow cannot read)\n"
    assert not Path("out.png").exists()


def test_a_bad_palette_file_is_one_line(workdir):
    """A malformed --palette file exits 1 with one line naming it."""
    Path("p.gpl").write_text("not a palette\n")
    result = run("recolor", "flat.png", "--palette", "p.gpl", "-o", "out.png")
    assert result.exit_code == 1
    assert result.output.startswith("Error: p.gpl: ") and result.output.count("\n") == 1


# -- whole files, deadlines ---------------------------------------------------------------------


def test_a_picture_whose_writer_fails_midway_leaves_no_file(workdir, monkeypatch):
    """The writer fails after writing part of the file: exit 1, no file, an older one kept."""
    import errno

    import chromapal.render as cli_pictures  # the command imports save_image from here when it runs

    def half_then_fail(image, path, **options):
        Path(path).write_bytes(b"\x89PNG\r\n\x1a\n half a picture")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(cli_pictures, "save_image", half_then_fail)
    Path("kept.png").write_bytes(b"an older picture")

    for name in ("new.png", "kept.png"):
        result = run("recolor", "flat.png", "-k", "3", "-o", name)
        assert (result.exit_code, result.stderr) == (
            1,
            f"Error: {name}: cannot write (No space left on device)\n",
        )
    assert sorted(p.name for p in workdir.iterdir()) == ["flat.png", "kept.png", "ramp.png"]
    assert Path("kept.png").read_bytes() == b"an older picture"


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", ["swatch", "pies", "recolor", "sweep", "report"])
def test_timeout_cuts_off_a_stalled_input_in_every_picture_command(workdir, command):
    """`COMMAND - -o FILE --timeout 1` fed by a producer that never finishes: one line, no file."""
    import subprocess
    import sys
    import time

    output = {"sweep": "out.gif", "report": "out.html"}.get(command, "out.png")
    started = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "chromapal", command, "-", "-o", output, "--timeout", "1"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=workdir,
    )
    try:
        proc.wait(timeout=60)  # standard input is never written or closed
        seconds = time.monotonic() - started
        err = proc.stderr.read()  # type: ignore[union-attr]
    finally:
        proc.kill()
        proc.stdin.close()  # type: ignore[union-attr]
        proc.wait()

    assert 1 <= seconds < 6
    assert (proc.returncode, err.decode()) == (1, "Error: <stdin>: took longer than 1 s\n")
    assert not (workdir / output).exists()
