"""Palette files: every format round-trips, and each follows its program's published layout."""

from __future__ import annotations

import csv
import io
import json
import re
import struct
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest

from chromapal.export import (
    FORMATS,
    PaletteFileError,
    colors_written,
    dump_palette,
    format_for_path,
    load_palette,
    read_palette,
    write_palette,
)
from chromapal.names import nearest_names
from chromapal.palette import Palette

#: Formats that store each colour's share (the others read back with equal shares).
WITH_SHARES = {"json", "csv", "svg"}
SHARE_TOLERANCE = 1e-6


@pytest.fixture
def palette():
    """Four colours with known nearest CSS names, from an image called sunset.png."""
    colors = np.array([(220, 20, 60), (255, 215, 0), (70, 130, 180), (47, 79, 79)], np.uint8)
    return Palette(colors, [0.4, 0.3, 0.2, 0.1], source="photos/sunset.png", k=4)


LABELS = ["crimson", "gold", "steelblue", "darkslategray"]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_round_trips_the_colours(palette, fmt):
    """Writing then reading each format gives back the same colours in the same order."""
    back = load_palette(dump_palette(palette, fmt), fmt, source=f"p.{fmt}")
    assert back.hex == palette.hex
    expected = palette.proportions if fmt in WITH_SHARES else np.full(4, 0.25)
    assert back.proportions == pytest.approx(expected, abs=SHARE_TOLERANCE)
    assert back.source == f"p.{fmt}"


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_round_trips_a_random_palette(fmt):
    """Thirty random colours (Procreate's limit) survive every format exactly."""
    rng = np.random.default_rng(3)
    colors = rng.integers(0, 256, (30, 3)).astype(np.uint8)
    p = Palette(colors, np.full(30, 1 / 30))
    assert load_palette(dump_palette(p, fmt), fmt).hex == p.hex


def test_gpl_has_the_gimp_header_name_line_and_labels(palette):
    """The GIMP palette starts with 'GIMP Palette' and 'Name:', then 'R G B<tab>label' rows."""
    text = dump_palette(palette, "gpl").decode()
    lines = text.splitlines()
    assert lines[0] == "GIMP Palette"
    assert lines[1] == "Name: sunset"
    assert lines[2] == "Columns: 4"
    rows = [line for line in lines[3:] if not line.startswith("#")]
    assert rows == [
        "220  20  60\tcrimson",
        "255 215   0\tgold",
        " 70 130 180\tsteelblue",
        " 47  79  79\tdarkslategray",
    ]


def parse_ase(data: bytes) -> list[tuple[str, bytes, tuple[float, ...], int]]:
    """Independent ASE parser: (name, model, values, type) per colour entry."""
    assert data[:4] == b"ASEF"
    major, minor, count = struct.unpack(">HHI", data[4:12])
    assert (major, minor) == (1, 0)
    entries, pos = [], 12
    for _ in range(count):
        kind, length = struct.unpack(">HI", data[pos : pos + 6])
        body = data[pos + 6 : pos + 6 + length]
        pos += 6 + length
        assert kind == 0x0001
        (units,) = struct.unpack(">H", body[:2])
        name = body[2 : 2 + 2 * units].decode("utf-16-be")
        assert name.endswith("\0")
        model = body[2 + 2 * units : 6 + 2 * units]
        values = struct.unpack(">3f", body[6 + 2 * units : 18 + 2 * units])
        (ctype,) = struct.unpack(">H", body[18 + 2 * units :])
        entries.append((name[:-1], model, values, ctype))
    assert pos == len(data)
    return entries


def test_ase_uses_big_endian_blocks_with_rgb_float32(palette):
    """ASE: 'ASEF' 1.0, a colour block per colour: UTF-16BE name, 'RGB ', three float32 in 0-1."""
    entries = parse_ase(dump_palette(palette, "ase"))
    assert [e[0] for e in entries] == LABELS
    assert {e[1] for e in entries} == {b"RGB "} and {e[3] for e in entries} == {2}
    got = np.rint(np.array([e[2] for e in entries]) * 255)
    assert np.array_equal(got, palette.colors)


def test_ase_reader_accepts_groups_and_other_models():
    """An ASE file with a group, a CMYK and a Gray entry (as Adobe apps write them) is read."""

    def entry(name: str, model: bytes, values: tuple[float, ...]) -> bytes:
        encoded = (name + "\0").encode("utf-16-be")
        body = struct.pack(">H", len(encoded) // 2) + encoded + model
        body += struct.pack(f">{len(values)}f", *values) + struct.pack(">H", 0)
        return struct.pack(">HI", 1, len(body)) + body

    group_name = ("Group\0").encode("utf-16-be")
    start = struct.pack(">HIH", 0xC001, 2 + len(group_name), 6) + group_name
    blocks = [
        start,
        entry("cyan", b"CMYK", (1, 0, 0, 0)),
        entry("mid", b"GRAY", (0.5,)),
        struct.pack(">HI", 0xC002, 0),
    ]
    data = b"ASEF" + struct.pack(">HHI", 1, 0, len(blocks)) + b"".join(blocks)
    assert load_palette(data, "ase").hex == ["#00ffff", "#808080"]


def test_paintnet_lines_are_aarrggbb(palette):
    """Paint.NET: ';' comments and one opaque 'FFRRGGBB' line per colour."""
    lines = dump_palette(palette, "paintnet").decode().splitlines()
    assert lines[0] == "; paint.net Palette File"
    assert [line for line in lines if not line.startswith(";")] == [
        "FFDC143C",
        "FFFFD700",
        "FF4682B4",
        "FF2F4F4F",
    ]


def test_txt_is_the_hex_list_and_paintnet_is_recognised_on_reading(palette, tmp_path):
    """'.txt' writes the hex list; a .txt holding Paint.NET lines still reads back."""
    assert dump_palette(palette, "txt").decode() == "#dc143c\n#ffd700\n#4682b4\n#2f4f4f\n"
    path = tmp_path / "pdn.txt"
    write_palette(palette, path, "paintnet")
    assert read_palette(path).hex == palette.hex


def test_css_and_scss_name_their_variables_after_the_colours(palette):
    """CSS custom properties and SCSS variables are named after the nearest colour names."""
    css = dump_palette(palette, "css").decode()
    assert ":root {" in css
    assert re.findall(r"--([\w-]+): (#\w{6});", css) == [
        ("color-crimson", "#dc143c"),
        ("color-gold", "#ffd700"),
        ("color-steelblue", "#4682b4"),
        ("color-darkslategray", "#2f4f4f"),
    ]
    scss = dump_palette(palette, "scss").decode()
    assert re.findall(r"^\$([\w-]+): (#\w{6});", scss, re.M)[0] == ("color-crimson", "#dc143c")


def test_duplicate_labels_get_unique_variable_names():
    """Two colours with the same nearest name get distinct identifiers (-2 suffix)."""
    p = Palette(np.array([(255, 0, 0), (254, 1, 1)], np.uint8), [0.5, 0.5])
    tailwind = json.loads(dump_palette(p, "tailwind"))
    assert tailwind == {"palette": {"red": "#ff0000", "red-2": "#fe0101"}}


def _labels_in(fmt: str, data: bytes) -> list[str]:
    """The colour labels of a file, read with the standard library only."""
    if fmt == "gpl":
        return [line.split("\t")[1] for line in data.decode().splitlines()[4:]]
    if fmt == "ase":
        out, offset = [], 12
        for _ in range(struct.unpack_from(">I", data, 8)[0]):
            length = struct.unpack_from(">I", data, offset + 2)[0]
            units = struct.unpack_from(">H", data, offset + 6)[0]
            out.append(data[offset + 8 : offset + 8 + 2 * units - 2].decode("utf-16-be"))
            offset += 6 + length
        return out
    if fmt == "kpl":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            root = ElementTree.fromstring(zf.read("colorset.xml"))
        return [e.get("name") for e in root.iter("ColorSetEntry")]
    if fmt == "svg":
        root = ElementTree.fromstring(data)
        return [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")][0::2]
    if fmt == "paintnet":
        return [line[2:] for line in data.decode().splitlines()[3:] if line.startswith("; ")]
    if fmt == "css":
        return re.findall(r"--color-([\w-]+):", data.decode())
    if fmt == "scss":
        return re.findall(r"\$color-([\w-]+):", data.decode())
    assert fmt == "tailwind"
    return list(json.loads(data)["palette"])


@pytest.mark.parametrize("fmt", ["gpl", "ase", "kpl", "svg", "paintnet", "css", "scss", "tailwind"])
def test_one_naming_rule_for_repeated_names_in_every_format(fmt):
    """24 greys that all look 'dimgray'-ish: labels are numbered alike in every labelled format."""
    greys = np.array([(100 + i // 8, 100 + i // 8, 100 + i // 8) for i in range(24)], np.uint8)
    p = Palette(greys, np.full(24, 1 / 24))
    names = nearest_names(greys)
    assert len(set(names)) < 24  # repeats to number
    expected, seen = [], {}
    for name in names:  # the rule written out: n-th repeat gets " n"
        seen[name] = seen.get(name, 0) + 1
        expected.append(name if seen[name] == 1 else f"{name} {seen[name]}")
    got = _labels_in(fmt, dump_palette(p, fmt))
    if fmt in ("css", "scss", "tailwind"):
        expected = [e.replace(" ", "-") for e in expected]
    assert got == expected
    assert len(set(got)) == 24


def test_tailwind_map_is_namespaced_so_defaults_stay():
    """Colour names such as red or gray are under 'palette', never top-level keys of the map."""
    p = Palette(np.array([(255, 0, 0), (128, 128, 128), (255, 192, 203)], np.uint8), [0.4, 0.3, 0.3])
    data = json.loads(dump_palette(p, "tailwind"))
    assert list(data) == ["palette"] and list(data["palette"]) == ["red", "gray", "pink"]


HOSTILE_SOURCE = "/tmp/a */ b --> c ]]> d\n:root{--evil:#000000}\r\x00e.png"


@pytest.mark.parametrize("fmt", ["css", "scss", "gpl", "paintnet", "svg", "kpl", "procreate"])
def test_a_hostile_image_path_never_ends_a_comment_or_line(fmt):
    """A path with */, -->, ]]> and a newline stays inside the file's comment or name field."""
    p = Palette(np.array([(220, 20, 60), (255, 215, 0)], np.uint8), [0.6, 0.4], source=HOSTILE_SOURCE)
    data = dump_palette(p, fmt)
    back = load_palette(data, fmt)
    assert back.hex == ["#dc143c", "#ffd700"]  # nothing lost, nothing injected
    if fmt in ("css", "scss", "gpl", "paintnet", "svg"):
        text = data.decode()
        assert "\x00" not in text and "\r" not in text.replace("\r\n", "\n")
    if fmt == "css":
        body = re.sub(r"/\*.*?\*/", "", data.decode(), flags=re.S)  # what a CSS parser keeps
        assert re.findall(r"--[\w-]+", body) == ["--color-crimson", "--color-gold"]
    if fmt == "scss":
        body = re.sub(r"//[^\n]*", "", data.decode())
        assert re.findall(r"\$[\w-]+", body) == ["$color-crimson", "$color-gold"]
    if fmt == "gpl":
        assert data.decode().splitlines()[1].startswith("Name: ") and len(data.decode().splitlines()) == 6
    if fmt == "svg":
        root = ElementTree.fromstring(data)
        assert len(list(root.iter("{http://www.w3.org/2000/svg}rect"))) == 2


@pytest.mark.parametrize(("fmt", "limit"), [("procreate", 30), ("paintnet", 96)])
def test_formats_with_a_colour_limit_write_what_the_program_reads(fmt, limit):
    """Procreate reads 30 colours, Paint.NET 96: the file holds that many and says so."""
    rng = np.random.default_rng(3)
    p = Palette(rng.integers(0, 256, (256, 3)).astype(np.uint8), np.full(256, 1 / 256))
    back = load_palette(dump_palette(p, fmt), fmt)
    assert len(back) == limit
    assert np.array_equal(back.colors, p.colors[:limit]) or fmt == "procreate"
    assert colors_written(p, fmt) == f"the first {limit} of 256 colours ({fmt} reads {limit})"
    assert colors_written(Palette(p.colors[:5], np.full(5, 0.2)), fmt) == "5 colours"


def test_xkcd_names_can_label_the_files(palette):
    """With names='xkcd' the labels come from the xkcd survey list."""
    rows = dump_palette(palette, "gpl", names="xkcd").decode().splitlines()[4:]
    labels = [row.split("\t")[1] for row in rows]
    assert labels == nearest_names(palette.colors, "xkcd") and labels != LABELS


def test_json_carries_both_names_and_parses_with_json(palette):
    """Chromapal JSON has hex, rgb, proportion, name and xkcd_name for every colour."""
    data = json.loads(dump_palette(palette, "json"))
    first = data["colors"][0]
    assert first["hex"] == "#dc143c" and first["rgb"] == [220, 20, 60]
    assert first["proportion"] == pytest.approx(0.4)
    assert [c["name"] for c in data["colors"]] == LABELS
    assert all(isinstance(c["xkcd_name"], str) and c["xkcd_name"] for c in data["colors"])


def test_csv_parses_with_the_csv_module(palette):
    """The CSV has a header row and one row per colour with hex, r, g, b and share."""
    rows = list(csv.DictReader(io.StringIO(dump_palette(palette, "csv").decode())))
    assert [r["hex"] for r in rows] == palette.hex
    assert [(int(r["r"]), int(r["g"]), int(r["b"])) for r in rows] == [
        tuple(c) for c in palette.colors
    ]
    assert [float(r["proportion"]) for r in rows] == pytest.approx([0.4, 0.3, 0.2, 0.1])
    assert [r["name"] for r in rows] == LABELS


def test_svg_is_well_formed_with_one_labelled_rect_per_colour(palette):
    """The SVG parses as XML; its rects carry the colours and its texts the labels."""
    root = ElementTree.fromstring(dump_palette(palette, "svg"))
    ns = "{http://www.w3.org/2000/svg}"
    assert [r.get("fill") for r in root.iter(f"{ns}rect")] == palette.hex
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert texts[0::2] == LABELS


def test_kpl_is_a_zip_with_mimetype_first_and_colorset(palette):
    """Krita palette: a zip, mimetype first and uncompressed, colorset.xml with RGB entries."""
    with zipfile.ZipFile(io.BytesIO(dump_palette(palette, "kpl"))) as zf:
        first = zf.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert zf.read("mimetype") == b"application/x-krita-palette"
        root = ElementTree.fromstring(zf.read("colorset.xml"))
        assert "profiles.xml" in zf.namelist()
    entries = root.findall("ColorSetEntry")
    assert [e.get("name") for e in entries] == LABELS
    rgb = [[float(e.find("RGB").get(c)) for c in "rgb"] for e in entries]
    assert np.array_equal(np.rint(np.array(rgb) * 255), palette.colors)


def test_procreate_is_a_zip_of_hsb_swatches(palette):
    """Procreate: a zip with Swatches.json listing HSB swatches in 0-1."""
    with zipfile.ZipFile(io.BytesIO(dump_palette(palette, "procreate"))) as zf:
        data = json.loads(zf.read("Swatches.json"))
    swatches = data[0]["swatches"]
    assert data[0]["name"] == "sunset" and len(swatches) == 4
    assert swatches[1]["hue"] == pytest.approx(50.588 / 360, abs=1e-3)  # gold
    assert swatches[1]["saturation"] == pytest.approx(1) and swatches[1][
        "brightness"
    ] == pytest.approx(1)


def test_format_for_path_uses_the_longest_extension_and_format_overrides():
    """'.tailwind.json' is Tailwind, '.json' chromapal JSON, '.TXT' the hex list; --format wins."""
    assert format_for_path("a/b.tailwind.json") == "tailwind"
    assert format_for_path("b.json") == "json"
    assert format_for_path("B.TXT") == "txt"
    assert format_for_path("b.txt", "paintnet") == "paintnet"


def test_unknown_extension_names_the_accepted_ones():
    """A path with an unknown extension raises PaletteFileError listing the extensions."""
    with pytest.raises(
        PaletteFileError,
        match=r"^p\.xyz: unknown palette format; expected a file ending in "
        r"\.ase, \.css",
    ):
        format_for_path("p.xyz")


@pytest.mark.parametrize(
    ("fmt", "data"),
    [("gpl", b"not a palette"), ("ase", b"ASEX"), ("json", b"{"), ("kpl", b"PK no zip")],
)
def test_broken_files_raise_palette_file_error(fmt, data):
    """A file that is not what its format says raises PaletteFileError naming file and format."""
    with pytest.raises(PaletteFileError, match=f"^bad.{fmt}: not a valid {fmt} palette file"):
        load_palette(data, fmt, source=f"bad.{fmt}")


def test_a_file_without_colours_is_an_error():
    """A valid but empty palette file raises PaletteFileError."""
    with pytest.raises(PaletteFileError, match="holds no colour"):
        load_palette(b"GIMP Palette\nName: empty\n", "gpl", source="e.gpl")


def test_write_and_read_palette_use_the_extension(palette, tmp_path):
    """`write_palette` picks the format from the extension and `read_palette` reads it back."""
    path = tmp_path / "out.ase"
    assert write_palette(palette, path) == "ase"
    assert path.read_bytes()[:4] == b"ASEF"
    assert read_palette(path).hex == palette.hex
