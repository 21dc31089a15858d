"""The search and export commands over palettes of several k: k shown and filtered, CSS names,
several colours, facets and --like, each a one-line error when misused."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from chromapal import cli

PINK, SLATE, GREEN, NAVY = (193, 164, 169), (32, 48, 64), (0, 200, 0), (0, 0, 128)


def invoke(*args: str):
    return CliRunner().invoke(cli.main, list(args))


def bands(path: Path, colors, rows) -> None:
    arr = np.concatenate([np.tile(np.array(c, np.uint8), (n, 8, 1)) for c, n in zip(colors, rows, strict=True)])
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """Three images batched at k = 1, 2 and 3: nine palettes."""
    root = tmp_path_factory.mktemp("imgs")
    bands(root / "pink.png", [PINK, SLATE, GREEN], [16, 8, 8])
    bands(root / "green.png", [GREEN, NAVY], [24, 8])
    bands(root / "navy.png", [NAVY, PINK], [20, 12])
    path = root / "p.sqlite"
    result = invoke("batch", str(root), "-k", "1-3", "--db", str(path), "--workers", "1", "--no-progress")
    assert result.exit_code == 0, result.output
    return root, path


def test_each_k_is_a_palette_and_search_shows_and_filters_it(db):
    root, path = db
    everything = json.loads(invoke("search", "--db", str(path), "--color", "#c1a4a9", "--json", "--limit", "50").stdout)
    pink = [(m["k"], m["options"]) for m in everything if m["source"] == str(root / "pink.png")]
    assert sorted(k for k, _ in pink) == [2, 3]  # k = 1 averages pink away
    assert all(options == {"k": k} for k, options in pink)
    table = invoke("search", "--db", str(path), "--color", "#c1a4a9", "-k", "3")
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["ΔE", "share", "colour", "rank", "k", "options", "image"]
    assert [line.split()[4] for line in lines[1:]] == ["3", "3"]


def test_css_names_several_colours_and_facets(db):
    root, path = db
    by_name = invoke("search", "--db", str(path), "--color", "navy", "--json", "-k", "2")
    assert {m["source"] for m in json.loads(by_name.stdout)} == {str(root / "green.png"), str(root / "navy.png")}
    both = json.loads(invoke("search", "--db", str(path), "--color", "navy:30%", "--color", "#c1a4a9",
                             "-k", "2", "--json").stdout)
    assert [m["source"] for m in both] == [str(root / "navy.png")]
    assert [c["query"] for c in both[0]["colors"]] == ["navy", "#c1a4a9"]
    green = json.loads(invoke("search", "--db", str(path), "--facet", "green:50%", "-k", "2", "--json").stdout)
    assert [m["source"] for m in green] == [str(root / "green.png")]
    assert green[0]["facets"]["green"] == pytest.approx(0.75, abs=0.01)


def test_like_finds_the_image_itself_first_among_others(db, tmp_path):
    root, path = db
    copy = tmp_path / "copy.png"
    copy.write_bytes((root / "navy.png").read_bytes())
    result = invoke("search", "--db", str(path), "--like", str(copy), "-k", "2", "--json")
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert found[0]["source"] == str(root / "navy.png") and found[0]["distance"] < 1
    assert [m["distance"] for m in found] == sorted(m["distance"] for m in found)


def test_export_filters_by_k_and_carries_facets(db):
    _, path = db
    out = invoke("export", "--db", str(path), "-o", "-", "-k", "1")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 3 and {r["k"] for r in rows} == {"1"} and all(r["facet"] for r in rows)
    none = invoke("export", "--db", str(path), "-o", "-", "--option", "space=lab")
    assert list(csv.DictReader(io.StringIO(none.stdout))) == []
    default = invoke("export", "--db", str(path), "-o", "-", "--option", "space=oklab", "-k", "2")
    assert len(list(csv.DictReader(io.StringIO(default.stdout)))) == 6


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--color", "reddish"], "'reddish' is not a colour"),
        (["--color", "red:200%"], "the share must be between 0 and 100 %"),
        (["--facet", "sparkly"], "'sparkly' is not a colour facet"),
        (["--color", "red", "--like", "x.png"], "give --like, or colours and facets, not both"),
        ([], "give --color, --facet or --like"),
        (["--color", "red", "--option", "nonsense"], "expected NAME=VALUE"),
        (["--color", "red", "--option", "max_pixels_x=3"], "is not an extraction option"),
        (["--color", "red", "-k", "0"], "-k"),
    ],
)
def test_misuse_is_one_line_and_exit_2(db, args, message):
    _, path = db
    result = invoke("search", "--db", str(path), *args)
    assert result.exit_code == 2, result.output
    assert message in result.output and result.output.count("\n") == 1


def test_like_of_an_unreadable_image_is_one_line_exit_1(db, tmp_path):
    _, path = db
    (tmp_path / "bad.png").write_bytes(b"not a png")
    result = invoke("search", "--db", str(path), "--like", str(tmp_path / "bad.png"))
    assert result.exit_code == 1 and result.output.count("\n") == 1 and "bad.png" in result.output
