"""Issue 13: whole workflows in one command, and the command line's rough edges.

pies over a folder (grid + colors.json per image, one decode each, a contact sheet),
``chromapal IMAGE -k 1-10 --json``, ``batch -k``, recolor printing its palette with
--max-side, several inputs for every picture command, the lazy command group (help from
the table, suggestions for typos), and the one-line errors asked for.
"""

from __future__ import annotations

import json
import os
import pty
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import chromapal.load
import chromapal.many
from chromapal import cli, extract, extract_many
from chromapal.cli import defaults
from chromapal.cli.group import COMMANDS, load_command

RED, NAVY, CREAM = (230, 57, 70), (29, 53, 87), (241, 250, 238)


def three_flat(width: int = 30) -> np.ndarray:
    """An RGB image with three flat colours covering 40 %, 24 % and 36 %."""
    image = np.empty((20, width, 3), np.uint8)
    image[:, : width * 2 // 5] = RED
    image[:8, width * 2 // 5 :] = NAVY
    image[8:, width * 2 // 5 :] = CREAM
    return image


def ramp(width: int = 48, height: int = 32, shift: int = 0) -> np.ndarray:
    """Many distinct colours."""
    y, x = np.mgrid[0:height, 0:width]
    return np.dstack([(x * 255 // width + shift) % 256, y * 255 // height, (x + y) * 127 // (width + height)]).astype(
        np.uint8
    )


@pytest.fixture
def panels(tmp_path, monkeypatch):
    """A folder of three panels (one in a subfolder) and a file that is not an image."""
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "panels"
    (folder / "more").mkdir(parents=True)
    Image.fromarray(three_flat()).save(folder / "a.png")
    Image.fromarray(ramp()).save(folder / "b.png")
    Image.fromarray(ramp(shift=90)).save(folder / "more" / "c.jpg", quality=95)
    return folder


def run(*args: str, **kwargs):
    """Invoke the chromapal command line in-process."""
    return CliRunner().invoke(cli.main, list(args), **kwargs)


def count_decodes(monkeypatch) -> list[str]:
    """Record every `load_image` call (each is one decode), wherever it is imported from."""
    calls: list[str] = []
    real = chromapal.load.load_image

    def counting(source, *args, **kwargs):
        calls.append(str(source)[:80])
        return real(source, *args, **kwargs)

    monkeypatch.setattr(chromapal.load, "load_image", counting)
    monkeypatch.setattr(chromapal.many, "load_image", counting)
    return calls


# -- pies over a folder -----------------------------------------------------------------


def test_pies_over_a_folder_writes_grid_json_and_a_contact_sheet(panels, monkeypatch):
    """Per image STEM/pies.png and STEM/colors.json (k = 1..4, as extract finds them), one decode each."""
    decodes = count_decodes(monkeypatch)
    result = run("pies", str(panels), "-k", "1-4", "-o", "out/")
    assert result.exit_code == 0, result.output
    assert len(decodes) == 3  # one per image, not one per k
    out = Path("out")
    assert sorted(p.name for p in out.iterdir()) == ["a", "b", "c", "contact-sheet.png"]
    for stem, source in [("a", panels / "a.png"), ("b", panels / "b.png"), ("c", panels / "more" / "c.jpg")]:
        with Image.open(out / stem / "pies.png") as grid:
            assert grid.size[0] > grid.size[1] > 100  # 4 charts in one row
        data = json.loads((out / stem / "colors.json").read_text())
        assert [p["k"] for p in data] == [1, 2, 3, 4]
        for palette in data:
            expected = extract(str(source), palette["k"], delta_e=True)
            assert [c["hex"] for c in palette["colors"]] == expected.hex
            assert [c["proportion"] for c in palette["colors"]] == pytest.approx(list(expected.proportions))
            assert palette["delta_e"] == pytest.approx(expected.delta_e, abs=1e-4)
    with Image.open(out / "contact-sheet.png") as sheet:
        assert sheet.size[1] > sheet.size[0] / 4  # three rows of 1 thumbnail + 4 pies


def test_pies_goes_on_after_a_bad_image_and_exits_1(panels):
    """A broken file gets one error line; the others are written, the contact sheet too."""
    (panels / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    result = run("pies", str(panels), "-k", "2", "-o", "out", "--no-progress")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "broken.png" in errors[0]
    assert sorted(p.name for p in Path("out").iterdir()) == ["a", "b", "c", "contact-sheet.png"]


def test_pies_one_image_keeps_its_grid_file(panels):
    """One image and -o FILE: the grid as before, no folder."""
    result = run("pies", str(panels / "a.png"), "-k", "1-3", "-o", "grid.png")
    assert result.exit_code == 0, result.output
    assert Path("grid.png").is_file() and not Path("a").exists()


def test_pies_and_report_without_matplotlib_give_the_install_hint(panels, monkeypatch):
    """A core install: the same one-line hint as the other extras, exit 1, nothing written."""
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    for args in (["pies", str(panels / "a.png"), "-o", "p.png"], ["report", str(panels / "a.png"), "-o", "r.html"],
                 ["pies", str(panels), "-o", "out/"]):
        result = run(*args)
        assert result.exit_code == 1, result.output
        assert result.output == (
            f"Error: chromapal {args[0]} needs the 'charts' extra: pip install 'chromapal[charts]' "
            "(matplotlib is missing)\n"
        )
    assert not Path("p.png").exists() and not Path("r.html").exists() and not list(Path("out").iterdir())


# -- palettes for a range of k ---------------------------------------------------------


def test_extract_k_range_json_is_a_list_of_palettes_from_one_decode(panels, monkeypatch):
    """``chromapal IMAGE -k 1-5 --json``: one palette object per k, each what -k N gives."""
    decodes = count_decodes(monkeypatch)
    result = run(str(panels / "b.png"), "-k", "1-5", "--json")
    assert result.exit_code == 0, result.output
    assert len(decodes) == 1
    data = json.loads(result.stdout)
    assert [p["k"] for p in data] == [1, 2, 3, 4, 5]
    for palette in data:
        single = json.loads(run(str(panels / "b.png"), "-k", str(palette["k"]), "--json").stdout)
        assert palette == single


def test_extract_k_range_table_has_a_header_per_k(panels):
    """The table form: a header line per palette, naming its size."""
    result = run(str(panels / "a.png"), "-k", "1,3")
    assert result.exit_code == 0, result.output
    headers = [line for line in result.stdout.splitlines() if "(" in line and "colour" in line]
    assert headers == [f"{panels / 'a.png'}  (1 colour, oklab)", f"{panels / 'a.png'}  (3 colours, oklab)"]


def test_extract_k_range_with_a_file_output_is_a_usage_error(panels):
    result = run(str(panels / "a.png"), "-k", "1-3", "-o", "p.gpl")
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert not Path("p.gpl").exists()


def test_extract_many_equals_extract_for_every_k(panels):
    """The library call: same palettes as extract, 'auto' too; bad ks before any decode."""
    ks = [1, 3, "auto", 8]
    many = extract_many(str(panels / "more" / "c.jpg"), ks, delta_e=True)
    for k, palette in zip(ks, many, strict=True):
        one = extract(str(panels / "more" / "c.jpg"), k, delta_e=True)
        assert palette.hex == one.hex and palette.delta_e == one.delta_e and palette.source == one.source
    with pytest.raises(ValueError, match="ks must hold 1 to 256"):
        extract_many("missing.png", [])
    with pytest.raises(ValueError, match="k must be between"):
        extract_many("missing.png", [3, 0])


def test_batch_k_range_stores_a_palette_per_k(panels):
    """``batch -k 1-3``: every image's palette for each k, exported as JSON Lines."""
    result = run("batch", str(panels), "-k", "1-3", "--db", "p.sqlite", "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in run("export", "--db", "p.sqlite", "-o", "-", "--format", "jsonl").stdout.splitlines()]
    assert sorted((Path(p["source"]).name, p["k"]) for p in lines) == sorted(
        (name, k) for name in ("a.png", "b.png", "c.jpg") for k in (1, 2, 3)
    )


def test_batch_with_no_matching_input_is_an_error_and_creates_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run("batch", "*.nomatch", "--db", "p.sqlite")
    assert (result.exit_code, result.output) == (1, "Error: *.nomatch: no image files match\n")
    assert list(tmp_path.iterdir()) == []


def test_export_to_standard_output_defaults_to_csv(panels):
    run("batch", str(panels / "a.png"), "-k", "3", "--db", "p.sqlite", "--no-progress")
    result = run("export", "--db", "p.sqlite", "-o", "-")
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert rows[0].startswith("source,") and len(rows) == 4  # a header and a row per colour


# -- recolor ------------------------------------------------------------------------------


def test_recolor_prints_the_palette_it_used(panels):
    """A plain table (hex, rgb, share, names) on standard output; --json gives the palette JSON."""
    result = run("recolor", str(panels / "a.png"), "-k", "3", "-o", "flat.png")
    assert result.exit_code == 0, result.output
    assert [line.split()[0] for line in result.stdout.splitlines()] == ["#e63946", "#f1faee", "#1d3557"]
    data = json.loads(run("recolor", str(panels / "a.png"), "-k", "3", "-o", "flat.png", "--json").stdout)
    assert [c["hex"] for c in data["colors"]] == ["#e63946", "#f1faee", "#1d3557"] and data["delta_e"] == 0


def test_recolor_max_side_scales_the_picture_down(panels):
    result = run("recolor", str(panels / "b.png"), "-k", "4", "-o", "small.png", "--max-side", "24")
    assert result.exit_code == 0, result.output
    with Image.open("small.png") as small:
        assert small.size == (24, 16) and len(small.convert("RGB").getcolors()) <= 4
    run("recolor", str(panels / "b.png"), "-k", "4", "-o", "full.png")
    with Image.open("full.png") as full:
        assert full.size == (48, 32)


# -- several inputs for every picture command -------------------------------------------


@pytest.mark.parametrize(
    ("command", "extra", "suffix"),
    [("swatch", [], ".png"), ("swatch", ["--format", "svg"], ".svg"), ("recolor", ["-k", "3"], ".png"),
     ("sweep", ["-k", "2,3"], ".gif"), ("report", ["--pies", "1,2"], ".html")],
)
def test_picture_commands_take_folders_and_globs_into_an_output_folder(panels, command, extra, suffix):
    result = run(command, str(panels / "*.png"), str(panels / "more"), "-o", "out", *extra)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in Path("out").iterdir()) == [f"a{suffix}", f"b{suffix}", f"c{suffix}"]


def test_several_inputs_go_on_after_a_bad_one(panels):
    result = run("swatch", str(panels / "a.png"), "missing.png", str(panels / "b.png"), "-o", "out")
    assert result.exit_code == 1
    assert result.stderr.count("Error:") == 1 and "missing.png" in result.stderr
    assert sorted(p.name for p in Path("out").iterdir()) == ["a.png", "b.png"]


def test_an_output_folder_never_overwrites_an_input(panels):
    result = run("recolor", str(panels), "-o", str(panels))
    assert result.exit_code == 2 and "refusing to overwrite the input image" in result.output
    assert len(result.output.splitlines()) == 1


def test_a_glob_matching_nothing_is_an_error(panels):
    result = run("swatch", "*.nomatch", "-o", "out")
    assert (result.exit_code, result.output) == (1, "Error: *.nomatch: no image files match\n")


# -- the command group --------------------------------------------------------------------


def test_the_help_table_matches_every_command():
    """Each one-line help in COMMANDS is the command's own (so --help need not import it)."""
    for name, (_, _, help_line) in COMMANDS.items():
        command = load_command(name)
        assert command.name == name
        assert command.get_short_help_str(limit=500) == help_line


def test_the_option_defaults_copied_for_the_help_equal_the_library():
    """cli/defaults.py copies what the help shows; each must equal the library's own value."""
    import importlib

    for copy, (module, name) in defaults.ORIGINALS.items():
        original = getattr(importlib.import_module(f"chromapal.{module}"), name)
        if isinstance(original, (dict, list, tuple)):  # a table of formats: its names, in order
            original = tuple(original)
        assert original == getattr(defaults, copy), copy


@pytest.mark.parametrize(("typo", "meant"), [("swatchh", "swatch"), ("pie", "pies"), ("recolour", "recolor"),
                                             ("serv", "serve"), ("exprot", "export")])
def test_a_mistyped_command_gets_a_suggestion(tmp_path, monkeypatch, typo, meant):
    monkeypatch.chdir(tmp_path)
    result = run(typo, "img.png", "-o", "a.png")
    assert (result.exit_code, result.output) == (2, f"Error: No such command '{typo}'. Did you mean '{meant}'?\n")


def test_an_existing_file_named_like_a_command_is_an_image(tmp_path, monkeypatch):
    """The first argument is an image when it exists, however close to a command it is."""
    monkeypatch.chdir(tmp_path)
    Image.fromarray(three_flat()).save("swatchh", format="PNG")
    result = run("swatchh", "-k", "3")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("#e63946")
    far = run("photo.jpg")  # no command is near: the usual missing-file error
    assert far.exit_code == 1 and "photo.jpg" in far.output and "Did you mean" not in far.output


def test_every_colour_option_takes_both_spellings():
    """-k --colors/--colours, search --color/--colour: any flag spelt one way is accepted the other."""
    seen = 0
    for name in COMMANDS:
        for param in load_command(name).params:
            flags = [f for f in getattr(param, "opts", []) if f.startswith("--")]
            for flag in flags:
                if "colour" in flag or "color" in flag:
                    seen += 1
                    other = flag.replace("colour", "color") if "colour" in flag else flag.replace("color", "colour")
                    assert other in flags, (name, flag)
    assert seen >= 6


def test_colours_spelling_works(panels):
    assert run(str(panels / "a.png"), "--colours", "3").stdout == run(str(panels / "a.png"), "--colors", "3").stdout


def test_one_colour_is_singular(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.full((4, 4, 3), 40, np.uint8)).save("grey.png")
    result = run("grey.png", "grey.png", "-k", "1")
    assert result.stdout.splitlines()[0] == "grey.png  (1 colour, oklab)"
    written = run("grey.png", "-k", "1", "-o", "grey.gpl")
    assert written.stderr == "wrote grey.gpl (gpl, 1 colour)\n"


def _on_a_terminal(args: list[str], env: dict[str, str]) -> str:
    """Run the installed command with standard output on a pseudo-terminal; return what it printed."""
    main_fd, child_fd = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "chromapal", *args], stdout=child_fd, stderr=subprocess.PIPE, env=env
    )
    os.close(child_fd)
    chunks = []
    while True:
        try:
            data = os.read(main_fd, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=60)
    os.close(main_fd)
    return b"".join(chunks).decode("utf-8", "replace")


def test_no_color_keeps_the_header_line(panels):
    """On a terminal the header names the image; NO_COLOR drops the colours, not the header."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    image = str(panels / "a.png")
    coloured = _on_a_terminal([image, "-k", "3"], env)
    plain = _on_a_terminal([image, "-k", "3"], {**env, "NO_COLOR": "1"})
    assert "\x1b[" in coloured and "\x1b[" not in plain
    assert f"{image}  (3 colours, oklab)" in plain.splitlines()[0]
    assert f"{image}  (3 colours, oklab)" in coloured


# -- serve --------------------------------------------------------------------------------


def test_serve_on_a_port_in_use_is_one_line_exit_1(monkeypatch):
    """Another program on the port: one line naming it, exit 1, and uvicorn never starts."""
    pytest.importorskip("uvicorn")
    monkeypatch.setattr("uvicorn.run", lambda *a, **k: pytest.fail("uvicorn started"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run("serve", "--port", str(port))
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot listen on 127.0.0.1:{port}: the port is in use by another program; "
        "choose another with --port\n"
    )


def test_library_parameter_names_become_flags(tmp_path, monkeypatch):
    """The pixel limit's message names --max-pixels, not the max_pixels parameter."""
    monkeypatch.chdir(tmp_path)
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save("big.png")
    for args in (["big.png"], ["swatch", "big.png", "-o", "s.png"], ["pies", "big.png", "-o", "p.png"]):
        result = run(*args, "--max-pixels", "10")
        assert result.exit_code == 1 and "--max-pixels" in result.output and "max_pixels" not in result.output


def test_one_line_usage_for_bad_k_ranges():
    for args in (["x.png", "-k", "3-1"], ["batch", "x", "-k", "0-4"]):
        result = run(*args)
        assert result.exit_code == 2 and len(result.output.splitlines()) == 1, result.output
        assert result.output.startswith("Error: Invalid value for '-k'"), result.output


# -- bounds ---------------------------------------------------------------------------------


def test_more_images_than_the_limit_is_one_error_before_any_work(panels, monkeypatch):
    """MAX_IMAGES bounds a run (here lowered to 2 for 3 generated images): exit 1, nothing written."""
    import chromapal.cli.inputs as inputs

    monkeypatch.setattr(inputs, "MAX_IMAGES", 2)
    for command in ("swatch", "pies"):
        result = run(command, str(panels), "-o", "out")
        assert (result.exit_code, result.output) == (1, "Error: 3 images: more than 2 in one run\n")
    assert not Path("out").exists() or not list(Path("out").iterdir())


def test_contact_sheets_hold_at_most_sheet_rows_images(panels, monkeypatch):
    """Past SHEET_ROWS images (lowered to 2) the contact sheet is split: contact-sheet-01, -02."""
    import chromapal.render.pie as pie

    monkeypatch.setattr(pie, "SHEET_ROWS", 2)
    result = run("pies", str(panels), "-k", "1,2", "-o", "out")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in Path("out").glob("contact-sheet*")) == ["contact-sheet-01.png", "contact-sheet-02.png"]
    with pytest.raises(ValueError, match="holds 1 to 2 images"):
        pie.contact_sheet([("x", three_flat(), [extract(three_flat(), 1)])] * 3)


def test_a_k_range_is_bounded_like_k(panels):
    """At most k = 256, so at most 256 palettes per image; 257 is a usage error naming -k."""
    result = run(str(panels / "a.png"), "-k", "250-257")
    assert result.exit_code == 2 and "'-k'" in result.output and len(result.output.splitlines()) == 1


def test_the_api_names_the_export_format_as_its_url_does():
    """A bad /api/export/FORMAT says 'format: ...', not the Python parameter 'fmt'."""
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from chromapal.web import Settings, create_app

    with TestClient(create_app(Settings()), base_url="http://127.0.0.1") as client:
        response = client.get("/api/export/nope", params={"token": "x"})
    assert response.status_code == 422
    assert response.json()["error"].startswith("format: Input should be"), response.json()


def test_recolor_of_a_url_names_it_in_the_palette_and_takes_max_side(http_server, tmp_path, monkeypatch):
    """The notebook workflow: URL -> palette printed (named by its URL) -> flattened image."""
    monkeypatch.chdir(tmp_path)
    url = f"{http_server}/photo.png"
    result = run("recolor", url, "-k", "5", "-o", "flat.png", "--json", "--max-side", "20")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["source"] == url and data["k"] == 5 and len(data["colors"]) == 5
    with Image.open("flat.png") as flat:
        assert max(flat.size) == 20 and len(flat.convert("RGB").getcolors()) <= 5
