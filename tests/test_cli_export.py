"""The CLI's export, clean-up and theme options, driven with CliRunner."""

from __future__ import annotations

import errno
import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from chromapal import cli
from chromapal.export import FORMATS, read_palette

WHITE, RED, BLUE, DARK_RED = (255, 255, 255), (220, 20, 60), (70, 130, 180), (210, 25, 55)


@pytest.fixture
def poster(tmp_path):
    """A PNG: white background 50 %, crimson 30 %, steel blue 20 % (flat bands)."""
    image = np.zeros((10, 10, 3), np.uint8)
    image[:5], image[5:8], image[8:] = WHITE, RED, BLUE
    path = tmp_path / "poster.png"
    Image.fromarray(image).save(path)
    return str(path)


def run(*args: str):
    """Invoke ``chromapal ARGS`` and return the click Result."""
    return CliRunner().invoke(cli.main, list(args))


def colors_of(result) -> list[str]:
    """The hex colours of a JSON result."""
    return [c["hex"] for c in json.loads(result.stdout)["colors"]]


EXTENSIONS = {
    "json": "json",
    "csv": "csv",
    "txt": "txt",
    "css": "css",
    "scss": "scss",
    "tailwind": "tailwind.json",
    "gpl": "gpl",
    "ase": "ase",
    "kpl": "kpl",
    "procreate": "swatches",
    "svg": "svg",
}


@pytest.mark.parametrize(("fmt", "ext"), EXTENSIONS.items())
def test_output_file_format_follows_the_extension(poster, tmp_path, fmt, ext):
    """``-o palette.EXT`` writes that format; reading it back gives the table's colours."""
    out = tmp_path / f"palette.{ext}"
    result = run(poster, "-k", "3", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert result.stderr == f"wrote {out} ({fmt}, 3 colours)\n"
    assert read_palette(out, fmt).hex == ["#ffffff", "#dc143c", "#4682b4"]


def test_extension_table_covers_every_format_but_paintnet():
    """Each format except Paint.NET (which shares .txt) is reachable by an extension."""
    assert set(EXTENSIONS) == set(FORMATS) - {"paintnet"}


def test_format_option_picks_paintnet_for_txt(poster, tmp_path):
    """``--format paintnet -o x.txt`` writes Paint.NET lines, not the hex list."""
    out = tmp_path / "x.txt"
    assert run(poster, "-k", "3", "--format", "paintnet", "-o", str(out)).exit_code == 0
    assert [line for line in out.read_text().splitlines() if not line.startswith(";")] == [
        "FFFFFFFF",
        "FFDC143C",
        "FF4682B4",
    ]


def test_format_without_output_goes_to_stdout(poster):
    """``--format css`` prints the CSS; ``--format ase`` the binary bytes."""
    result = run(poster, "-k", "3", "--format", "css")
    assert result.exit_code == 0
    assert "  --color-crimson: #dc143c; /* 30.0% */" in result.output.splitlines()
    ase = run(poster, "-k", "3", "--format", "ase")
    assert ase.stdout_bytes.startswith(b"ASEF\x00\x01\x00\x00\x00\x00\x00\x03")


def test_names_option_labels_files_with_xkcd_names(poster, tmp_path):
    """``--names xkcd`` labels the GIMP palette rows with xkcd names."""
    out = tmp_path / "p.gpl"
    assert run(poster, "-k", "3", "--names", "xkcd", "-o", str(out)).exit_code == 0
    assert out.read_text().splitlines()[4:] == [
        "255 255 255\twhite",
        "220  20  60\tcherry",
        " 70 130 180\tcool blue",
    ]


def test_table_and_json_show_colour_names(poster):
    """The table shows CSS and xkcd names; JSON has "name" and "xkcd_name"."""
    table = run(poster, "-k", "3")
    assert (
        table.output.splitlines()[1]
        == "#dc143c  rgb(220,  20,  60)   30.0%  crimson              cherry"
    )
    data = json.loads(run(poster, "-k", "3", "--json").stdout)
    assert [(c["name"], c["xkcd_name"]) for c in data["colors"]] == [
        ("white", "white"),
        ("crimson", "cherry"),
        ("steelblue", "cool blue"),
    ]


def test_ignore_leaves_the_background_out(poster):
    """``--ignore white`` clusters only the other pixels: two colours, shares 60/40."""
    data = json.loads(run(poster, "-k", "3", "--ignore", "white", "--json").stdout)
    assert [c["hex"] for c in data["colors"]] == ["#dc143c", "#4682b4"]
    assert [c["proportion"] for c in data["colors"]] == pytest.approx([0.6, 0.4])


def test_ignore_accepts_hex_and_a_tolerance(poster):
    """``--ignore '#fafafa'`` with a tolerance of 5 also leaves white out; tolerance 0 does not."""
    assert colors_of(
        run(poster, "-k", "3", "--ignore", "#fafafa", "--ignore-tolerance", "5", "--json")
    ) == ["#dc143c", "#4682b4"]
    assert "#ffffff" in colors_of(
        run(poster, "-k", "3", "--ignore", "#fafafa", "--ignore-tolerance", "0", "--json")
    )


def test_ignore_holds_with_alpha_threshold_zero(poster):
    """Ignored pixels stay out even when --alpha-threshold 0 would count transparent pixels."""
    result = run(poster, "-k", "3", "--ignore", "white", "--alpha-threshold", "0", "--json")
    assert colors_of(result) == ["#dc143c", "#4682b4"]


def test_sort_merge_and_min_share(poster, tmp_path):
    """--sort lightness: dark to light; --min-share drops small colours; --merge joins near ones."""
    assert colors_of(run(poster, "-k", "3", "--sort", "lightness", "--json")) == [
        "#dc143c",
        "#4682b4",
        "#ffffff",
    ]
    assert colors_of(run(poster, "-k", "3", "--min-share", "0.25", "--json")) == [
        "#ffffff",
        "#dc143c",
    ]
    image = np.zeros((10, 10, 3), np.uint8)
    image[:5], image[5:] = RED, DARK_RED
    path = tmp_path / "reds.png"
    Image.fromarray(image).save(path)
    merged = json.loads(run(str(path), "-k", "2", "--merge", "5", "--json").stdout)["colors"]
    assert len(merged) == 1 and merged[0]["proportion"] == pytest.approx(1.0)


def test_unknown_extension_is_a_usage_error(poster, tmp_path):
    """An unknown -o extension exits 2 with one error line listing the extensions."""
    result = run(poster, "-o", str(tmp_path / "p.xyz"))
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        f"Error: {tmp_path / 'p.xyz'}: unknown output format 'xyz'; expected one of "
        "ase, css, csv, gpl, hex, json, kpl, scss, svg, swatches, txt"
    )


def test_unknown_format_is_a_usage_error(poster):
    """An unknown --format exits 2 and names the choices."""
    result = run(poster, "--format", "pdf")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1].startswith(
        "Error: Invalid value for '--format': 'pdf' is not one of"
    )


def test_bad_ignore_colour_is_a_usage_error(poster):
    """A colour --ignore cannot parse exits 2 with a one-line message."""
    result = run(poster, "--ignore", "white,blu")
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: Invalid value for '--ignore': 'blu' is not a colour; "
        "expected a CSS colour name like 'white' or a hex code like '#f0f0f0'"
    )
    assert "Traceback" not in result.output


def test_output_with_several_images_is_a_usage_error(poster):
    """-o with two images exits 2."""
    result = run(poster, poster, "-o", "x.gpl")
    assert result.exit_code == 2
    assert (
        result.output.splitlines()[-1] == "Error: -o/--output and --format take one IMAGE (got 2)"
    )


def test_missing_output_folder_is_a_usage_error(poster, tmp_path):
    """-o into a folder that does not exist exits 2 before any work."""
    result = run(poster, "-o", str(tmp_path / "nope" / "p.gpl"))
    assert result.exit_code == 2
    assert "does not exist" in result.output.splitlines()[-1]


# -- theme --------------------------------------------------------------------------------


def test_theme_writes_a_target_file(poster, tmp_path):
    """``theme IMAGE --target alacritty -o FILE`` writes TOML that parses with tomllib."""
    out = tmp_path / "theme.toml"
    result = run("theme", poster, "--target", "alacritty", "-o", str(out))
    assert result.exit_code == 0, result.output
    colors = tomllib.loads(out.read_text())["colors"]
    assert set(colors) == {"primary", "cursor", "normal", "bright"}


def test_theme_prints_to_stdout_without_output(poster):
    """Without -o the scheme file goes to standard output."""
    result = run("theme", poster, "--target", "windows-terminal", "--light", "--name", "poster")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["name"] == "poster light" and len(data) == 21


@pytest.mark.parametrize("color", [(128, 128, 128), (0, 0, 0)])
def test_theme_of_a_monochrome_image(tmp_path, color):
    """A one-colour image still gives a full 16-colour scheme."""
    path = tmp_path / "flat.png"
    Image.new("RGB", (8, 8), color).save(path)
    result = run("theme", str(path), "--target", "kitty")
    assert result.exit_code == 0
    assert sum(line.startswith("color") for line in result.output.splitlines()) == 16


def test_theme_preview_prints_coloured_text(poster):
    """--preview prints 24-bit colour escape sequences for the background and ANSI colours."""
    result = run("theme", poster, "--preview")
    assert result.exit_code == 0
    assert "\x1b[" in result.output and "48;2;" in result.output
    assert "normal" in result.output and "bright" in result.output


def test_theme_preview_shows_every_pairing_with_its_ratio(poster):
    """--preview lists the text-on-colour pairings (bg, 0 and 15 on the colours) with ratios."""
    result = run("theme", poster, "--preview")
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.output)
    assert "text on the colours" in text and "colours on the background" in text
    ratios = [float(r) for r in re.findall(r"(\d+\.\d):1", text)]
    assert len(ratios) >= 6 + 6 + 2 + 2 and min(ratios) >= 3.0


@pytest.mark.parametrize("target", ["konsole", "base16", "pywal", "alacritty-yaml", "tmux"])
def test_theme_writes_the_new_targets(poster, tmp_path, target):
    """Every registry target is a --target choice and writes a file."""
    out = tmp_path / f"scheme.{target}"
    result = run("theme", poster, "--target", target, "-o", str(out))
    assert result.exit_code == 0, result.output
    assert out.read_text().strip()


def test_procreate_export_reports_the_colours_written(tmp_path):
    """Asked for 40 colours of a noisy image, a Procreate file holds 30 and the message says so."""
    path = tmp_path / "noise.png"
    rng = np.random.default_rng(5)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(path)
    out = tmp_path / "p.swatches"
    result = run(str(path), "-k", "40", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert len(read_palette(out)) == 30
    assert result.output.strip().splitlines()[-1] == (
        f"wrote {out} (procreate, the first 30 of 40 colours (procreate reads 30))"
    )


def test_theme_needs_a_target_or_preview(poster):
    """``theme IMAGE`` alone is a usage error."""
    result = run("theme", poster)
    assert result.exit_code == 2
    assert result.output.splitlines()[-1] == (
        "Error: give --target NAME to write a scheme, or --preview to see it"
    )


def test_theme_unknown_target_is_a_usage_error(poster):
    """An unknown --target exits 2 naming the choices."""
    result = run("theme", poster, "--target", "konsol")
    assert result.exit_code == 2
    assert "'konsol' is not one of 'xresources', 'kitty'" in result.output


def test_theme_of_a_missing_file_is_a_one_line_error(tmp_path):
    """A missing image exits 1 with one error line."""
    result = run("theme", str(tmp_path / "none.png"), "--target", "kitty")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error: ")


def half_then_disk_full(self: Path, data: bytes) -> int:
    """Path.write_bytes that writes half the bytes, then fails as a full disk does."""
    with open(self, "wb") as fh:
        fh.write(data[: len(data) // 2])
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("args", [["-o", "palette.gpl"], ["--target", "kitty", "-o", "theme.conf"]])
def test_a_failed_write_leaves_no_partial_file(poster, tmp_path, monkeypatch, args):
    """Palette and theme files are written whole or not at all; an older file stays as it was."""
    monkeypatch.chdir(tmp_path)
    command = ["theme", poster] if "--target" in args else [poster, "-k", "3"]
    name = args[-1]
    (tmp_path / "old").mkdir()
    monkeypatch.setattr(Path, "write_bytes", half_then_disk_full)

    fresh = run(*command, *args)
    assert (fresh.exit_code, fresh.stderr) == (1, f"Error: {name}: cannot write (No space left on device)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old", "poster.png"]

    with open(tmp_path / "old" / name, "w") as fh:
        fh.write("previous\n")
    again = run(*command, *args[:-1], f"old/{name}")
    assert again.exit_code == 1
    assert sorted(p.name for p in (tmp_path / "old").iterdir()) == [name]
    assert (tmp_path / "old" / name).read_text() == "previous\n"
