"""Issue 12: the shares, the flattened image, the reported error and the palette agree, exactly.

Every test here compares two faces of chromapal computed by different code: the palette's
shares and ``delta_e`` (from `extract`) against the pixels of the flattened picture (from
`recolor`) counted and scored independently with NumPy's CIEDE2000.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import chromapal
import chromapal.assign as assign
from chromapal import Palette
from chromapal.assign import (
    cell_centres_lab,
    flat_error,
    flatten_labels,
    measure_palette,
    nearest_de2000,
    rule_for,
)
from chromapal.colorspace import ciede2000, lab_from_srgb
from chromapal.dither import dither_labels
from chromapal.render import save_animation, sweep_frames
from chromapal.render.common import save_image
from chromapal.render.recolor import recolor_pixels

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"


# -- helpers: an independent reading of a flattened picture ----------------------------------


def flattened_rgba(picture: Image.Image) -> np.ndarray:
    """The picture as (H, W, 4) uint8, whatever its mode."""
    return np.asarray(picture.convert("RGBA"))


def counts_in(picture: Image.Image, palette: Palette) -> tuple[np.ndarray, int]:
    """Pixels of each palette colour among the visible pixels of a flattened picture, and their total."""
    rgba = flattened_rgba(picture)
    shown = rgba[..., 3] > 0
    rgb = rgba[shown][:, :3]
    key = (rgb[:, 0].astype(np.int64) << 16) | (rgb[:, 1].astype(np.int64) << 8) | rgb[:, 2]
    pal = palette.colors.astype(np.int64)
    pal_key = (pal[:, 0] << 16) | (pal[:, 1] << 8) | pal[:, 2]
    assert np.isin(key, pal_key).all(), "the flattened picture holds a colour that is not in the palette"
    return np.array([(key == p).sum() for p in pal_key]), int(shown.sum())


def mean_de(original: np.ndarray, picture: Image.Image, alpha_threshold: int = 128) -> float:
    """Mean CIEDE2000 between the original's opaque pixels and the flattened picture's (NumPy)."""
    rgba = flattened_rgba(picture)
    orig = original.reshape(-1, original.shape[-1])
    keep = orig[:, 3] >= alpha_threshold if orig.shape[1] == 4 else np.ones(len(orig), bool)
    a = lab_from_srgb(orig[keep, :3])
    b = lab_from_srgb(rgba.reshape(-1, 4)[keep, :3])
    return float(ciede2000(a, b).mean())


def comic_panel(size: int = 240) -> tuple[np.ndarray, list[tuple[int, int, int]]]:
    """A flat-coloured panel with anti-aliased (blended) edges between its colours."""
    colours = [(255, 255, 255), (170, 0, 0), (6, 159, 95), (0, 0, 62), (200, 159, 95), (0, 0, 0)]
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    # soft-edged shapes: coverage in [0, 1] over a 2-pixel ramp
    shapes = [
        np.clip((size * 0.42 - np.hypot(x - size * 0.35, y - size * 0.4)) / 2 + 0.5, 0, 1),
        np.clip((size * 0.2 - np.abs(x - size * 0.75) - np.abs(y - size * 0.7)) / 2 + 0.5, 0, 1),
        np.clip((np.minimum(y - size * 0.82, size * 0.97 - y)) / 2 + 0.5, 0, 1),
        np.clip((size * 0.1 - np.hypot(x - size * 0.3, y - size * 0.35)) / 2 + 0.5, 0, 1),
        np.clip((np.minimum(x - size * 0.05, size * 0.08 - x) + 0 * y) / 2 + 0.5, 0, 1),
    ]
    image = np.tile(np.array(colours[0], np.float64), (size, size, 1))
    for colour, cover in zip(colours[1:], shapes, strict=True):
        image = image * (1 - cover[..., None]) + np.array(colour, np.float64) * cover[..., None]
    return np.rint(image).astype(np.uint8), colours


def soft_emoji(size: int = 64) -> np.ndarray:
    """An RGBA disc in three colours whose edge fades from alpha 255 to 0 over 6 pixels."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    r = np.hypot(x - size / 2, y - size / 2)
    alpha = np.clip((size * 0.42 - r) / 6, 0, 1) * 255
    rgb = np.zeros((size, size, 3), np.uint8)
    rgb[x < size / 3] = (250, 200, 30)
    rgb[(x >= size / 3) & (x < 2 * size / 3)] = (220, 40, 60)
    rgb[x >= 2 * size / 3] = (40, 90, 200)
    rgb = (rgb + (y[..., None] * 30 / size)).astype(np.uint8)  # a little shading: many colours
    return np.dstack([rgb, np.rint(alpha).astype(np.uint8)])


def photo() -> np.ndarray:
    """The bundled Kodak photo (kodim23), decoded."""
    return chromapal.load_image(DATA / "kodim23.png").pixels


# -- shares and error equal the flattened picture's ------------------------------------------


@pytest.mark.parametrize("k", [1, 2, 5, 8, 16])
def test_shares_are_the_pixel_counts_of_the_flattened_photo(k):
    """Each share is the colour's pixel count in the recoloured photo over the pixel count, exactly."""
    pixels = photo()
    palette = chromapal.extract(DATA / "kodim23.png", k)
    counts, total = counts_in(chromapal.recolor(DATA / "kodim23.png", palette), palette)
    assert total == pixels.shape[0] * pixels.shape[1]
    assert np.array_equal(palette.proportions, counts / total)


@pytest.mark.parametrize("k", [2, 8])
def test_delta_e_is_the_mean_de2000_of_the_flattened_photo(k):
    """The palette's reported error is the mean CIEDE2000 of the flattened photo (NumPy, per pixel)."""
    palette = chromapal.extract(DATA / "kodim23.png", k, delta_e=True)
    picture = chromapal.recolor(DATA / "kodim23.png", palette)
    assert palette.delta_e == pytest.approx(mean_de(photo(), picture), rel=1e-9, abs=1e-9)
    assert palette == chromapal.extract(DATA / "kodim23.png", k)  # the same palette and shares without it
    assert chromapal.extract(DATA / "kodim23.png", k).delta_e is None


def test_shares_and_error_of_a_synthetic_image_with_alpha():
    """Random colours under a hard-and-soft alpha: counts and error over the opaque pixels only."""
    rng = np.random.default_rng(7)
    image = rng.integers(0, 256, (90, 70, 4), dtype=np.uint8)
    image[..., 3] = np.where(rng.random((90, 70)) < 0.3, 0, rng.integers(60, 256, (90, 70)))
    palette = chromapal.extract(image, 6, alpha_threshold=100, delta_e=True)
    picture = chromapal.recolor(image, palette, alpha_threshold=100)
    counts, total = counts_in(picture, palette)
    assert total == int((image[..., 3] >= 100).sum())
    assert np.array_equal(palette.proportions, counts / total)
    assert palette.delta_e == pytest.approx(mean_de(image, picture, 100), rel=1e-9)


def test_the_web_preview_and_a_rescaled_picture_are_measured_on_their_own_pixels():
    """`measure_palette` gives the shares and error of exactly the pixels it is handed."""
    pixels = photo()
    palette = chromapal.extract(pixels, 6)
    small = np.asarray(Image.fromarray(pixels).resize((192, 128), Image.Resampling.LANCZOS))
    measured = measure_palette(small, palette)
    counts, total = counts_in(recolor_pixels(small, measured), measured)
    assert np.array_equal(measured.proportions, counts / total)
    assert measured.delta_e == pytest.approx(mean_de(small, recolor_pixels(small, measured)), rel=1e-9)
    assert sorted(measured.hex) == sorted(palette.hex)


def test_a_large_jpeg_palette_found_on_a_draft_is_measured_at_full_size(tmp_path):
    """A JPEG decoded at reduced DCT scale for the palette: measure_palette on the full decode is exact."""
    y, x = np.mgrid[0:1200, 0:1000]
    image = np.dstack([x * 255 // 1000, y * 255 // 1200, (x + y) * 255 // 2200]).astype(np.uint8)
    path = tmp_path / "big.jpg"
    Image.fromarray(image).save(path, quality=90)
    palette = chromapal.extract(path, 8)  # 1.2 MP: decoded at half size
    full = chromapal.load_image(path, draft_above=None).pixels
    measured = measure_palette(full, palette)
    counts, total = counts_in(chromapal.recolor(path, palette), measured)
    assert total == full.shape[0] * full.shape[1]
    assert np.array_equal(measured.proportions, counts / total)


def test_the_report_table_shows_the_shares_of_its_flattened_picture():
    """The report's table is measured on the picture it shows beside it."""
    from chromapal.render import report_html

    page = report_html(photo(), k=4, pie_ks=[2], max_side=120)
    shown = np.asarray(Image.fromarray(photo()).resize((120, 80), Image.Resampling.LANCZOS))
    measured = measure_palette(shown, chromapal.extract(photo(), 4))
    for swatch in measured:
        assert f"<td>{swatch.proportion:.1%}</td>" in page
    assert f"mean &Delta;E2000 {measured.delta_e:.2f}" in page


# -- the rule ---------------------------------------------------------------------------------


def reference_labels(pixels: np.ndarray, palette: Palette) -> np.ndarray:
    """The rule, written out: least ΔE2000 from the cell centre among the palette colours inside the
    cell if there are any, else among all; a pixel of exactly a palette colour keeps it."""
    rgb = pixels.reshape(-1, pixels.shape[-1])[:, :3].astype(np.int64)
    cell = ((rgb[:, 0] >> 3) << 10) | ((rgb[:, 1] >> 3) << 5) | (rgb[:, 2] >> 3)
    centre = np.stack([(cell >> 10) * 8 + 3.5, ((cell >> 5) & 31) * 8 + 3.5, (cell & 31) * 8 + 3.5], 1)
    de = np.stack([ciede2000(lab_from_srgb(centre), c) for c in lab_from_srgb(palette.colors)], 1)
    pal = palette.colors.astype(np.int64)
    pal_cell = ((pal[:, 0] >> 3) << 10) | ((pal[:, 1] >> 3) << 5) | (pal[:, 2] >> 3)
    inside = cell[:, None] == pal_cell[None, :]  # a cell holding palette colours: only those compete
    de = np.where(inside.any(axis=1, keepdims=True) & ~inside, np.inf, de)
    labels = np.argmin(de, axis=1)
    for i, c in enumerate(pal):
        labels[(rgb == c).all(axis=1)] = i
    return labels.reshape(pixels.shape[:-1])


def test_the_rule_is_least_de2000_from_the_cell_centre_and_palette_colours_keep_their_pixels():
    """Random pixels and a random palette: the table look-up equals the rule written out."""
    rng = np.random.default_rng(1)
    palette = Palette(rng.integers(0, 256, (9, 3)), np.full(9, 1 / 9))
    pixels = rng.integers(0, 256, (60, 50, 3), dtype=np.uint8)
    pixels[0, :9] = palette.colors  # exact palette colours keep their own label
    labels, _ = flatten_labels(pixels, rule_for(palette.colors))
    assert np.array_equal(labels, reference_labels(pixels, palette))


def test_compiled_kernels_agree_with_their_numpy_twins(monkeypatch):
    """flatten, flat_error, dither and nearest_de2000: the same results with and without the C kernels."""
    if assign.KERNELS is None:
        pytest.skip("the compiled kernels are not built")
    rng = np.random.default_rng(3)
    palette = Palette(rng.integers(0, 256, (7, 3)), np.full(7, 1 / 7))
    pixels = rng.integers(0, 256, (41, 37, 4), dtype=np.uint8)
    pixels[:3, :7, :3] = palette.colors
    rule = rule_for(palette.colors)
    compiled = (
        flatten_labels(pixels, rule, alpha_threshold=90),
        flat_error(pixels, rule, alpha_threshold=90),
        dither_labels(pixels, palette.colors, alpha_threshold=90),
        nearest_de2000(cell_centres_lab()[::97], rule.lab),
    )
    import chromapal.dither as dither

    monkeypatch.setattr(assign, "KERNELS", None)
    monkeypatch.setattr(dither, "KERNELS", None)
    monkeypatch.setattr(assign, "CHUNK", 100)  # the fallback in small steps gives the same too
    numpy_ = (
        flatten_labels(pixels, rule, alpha_threshold=90),
        flat_error(pixels, rule, alpha_threshold=90),
        dither_labels(pixels, palette.colors, alpha_threshold=90),
        nearest_de2000(cell_centres_lab()[::97], rule.lab),
    )
    assert np.array_equal(compiled[0][0], numpy_[0][0]) and np.array_equal(compiled[0][1], numpy_[0][1])
    assert np.array_equal(compiled[1][0], numpy_[1][0])
    assert compiled[1][1] == pytest.approx(numpy_[1][1], rel=1e-10)
    assert np.array_equal(compiled[2], numpy_[2])
    assert np.array_equal(compiled[3][0], numpy_[3][0])
    np.testing.assert_allclose(compiled[3][1], numpy_[3][1], rtol=1e-9)


def test_kernels_refuse_tables_that_point_outside_the_palette():
    """A label table naming a colour the palette lacks is a ValueError, not a read out of bounds."""
    if assign.KERNELS is None:
        pytest.skip("the compiled kernels are not built")
    rule = rule_for(np.array([[0, 0, 0], [255, 255, 255]], np.uint8))
    bad_cells = rule.cells.copy()
    bad_cells[5] = 7
    pixels = np.zeros((4, 4, 3), np.uint8)
    counts = np.zeros(256, np.int64)
    lin = np.zeros(256)
    with pytest.raises(ValueError, match="out of range"):
        assign.KERNELS.flat_error(pixels, 3, 0, bad_cells, rule.sub, rule.lab, lin, np.zeros(9), np.ones(3), counts)
    bad_cells[5] = -1000
    with pytest.raises(ValueError, match="out of range"):
        assign.KERNELS.flatten(pixels, 3, 0, bad_cells, rule.sub, np.zeros(16, np.uint8), counts)
    with pytest.raises(ValueError):
        assign.KERNELS.dither(
            pixels, 5, 3, 0, rule.lab, lin, np.zeros(9), np.zeros(9), np.zeros(16, np.uint8)
        )  # a width of 5 does not divide 16 pixels


# -- exact colours of flat art ----------------------------------------------------------------


def test_a_comic_panel_with_anti_aliased_edges_gets_its_own_colours_back():
    """Six flat colours blended at the edges: the 6-colour palette is exactly those six."""
    image, colours = comic_panel()
    assert len(np.unique(image.reshape(-1, 3), axis=0)) > 50  # the blended edges are many colours
    palette = chromapal.extract(image, len(colours))
    assert sorted(palette.hex) == sorted(f"#{r:02x}{g:02x}{b:02x}" for r, g, b in colours)


def test_a_comic_panel_with_jpeg_noise_is_left_as_found():
    """Where no single colour dominates its cluster (JPEG noise), colours stay the cluster's own."""
    image, _ = comic_panel()
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=60)
    palette = chromapal.extract(buffer.getvalue(), 6, delta_e=True)
    assert len(palette) == 6 and palette.delta_e is not None


def test_a_white_page_is_pure_white():
    """A white page with grey anti-aliased text comes back as #ffffff, not #fffffe."""
    page = np.full((200, 300, 3), 255, np.uint8)
    rng = np.random.default_rng(0)
    for _ in range(40):
        y, x = rng.integers(10, 190), rng.integers(10, 290)
        page[y : y + 3, x : x + 8] = rng.integers(0, 200)  # strokes in several greys
    palette = chromapal.extract(page, 3)
    assert palette.hex[0] == "#ffffff"


@pytest.mark.skipif(not (SHARED / "art").is_dir(), reason="the shared images are not present")
@pytest.mark.parametrize(
    "name", ["pdv_aliens_cartoon.png", "pdv_camping_tent_bonfire.png", "noto_emoji_rainbow_u1f308.png"]
)
def test_flat_artworks_get_their_exact_colours(name):
    """Flat-coloured artworks: a colour whose cluster one exact colour (within ΔE 1) dominates is that colour."""
    path = SHARED / "art" / name
    pixels = chromapal.load_image(path).pixels
    palette = chromapal.extract(path, 6)
    labels, _ = flatten_labels(pixels, rule_for(palette.colors))
    flat = pixels.reshape(-1, pixels.shape[-1])
    keep = flat[:, 3] >= 128 if flat.shape[1] == 4 else np.ones(len(flat), bool)
    key = (flat[:, 0].astype(np.int64) << 16) | (flat[:, 1].astype(np.int64) << 8) | flat[:, 2]
    key, labels = key[keep], labels.reshape(-1)[keep]
    dominated = 0
    for j, colour in enumerate(palette.colors):
        values, n = np.unique(key[labels == j], return_counts=True)
        top = values[np.argmax(n)]
        rgb = np.array([[top >> 16, (top >> 8) & 255, top & 255]], np.uint8)
        if n.max() > 0.5 * n.sum() and ciede2000(lab_from_srgb(rgb), lab_from_srgb(colour))[0] <= 1:
            dominated += 1
            assert np.array_equal(rgb[0], colour), f"{palette.hex[j]} should be the image's own #{top:06x}"
    assert dominated >= 4  # the test is about something: most colours of flat art are dominated


# -- transparency in every picture ------------------------------------------------------------


def alpha_of(frame: Image.Image) -> np.ndarray:
    return np.asarray(frame.convert("RGBA"))[..., 3]


@pytest.mark.parametrize("threshold", [1, 128, 250])
def test_every_sweep_frame_keeps_transparency_by_the_threshold(tmp_path, threshold):
    """Soft alpha: in every frame, the original included, alpha below the threshold is transparent."""
    image = soft_emoji()
    frames = sweep_frames(image, [2, 3], alpha_threshold=threshold, labels=False, max_side=None)
    save_animation(frames, tmp_path / "s.gif")
    expected = np.where(image[..., 3] >= threshold, 255, 0)
    with Image.open(tmp_path / "s.gif") as gif:
        assert gif.n_frames == 3
        for i in range(gif.n_frames):
            gif.seek(i)
            assert np.array_equal(alpha_of(gif), expected), f"frame {i}"


def test_hard_alpha_original_frame_is_transparent_not_black(tmp_path):
    """Alpha only 0 or 255: the closing original frame keeps the transparent background."""
    image = soft_emoji()
    image[..., 3] = np.where(image[..., 3] >= 128, 255, 0)
    frames = sweep_frames(image, [2], labels=False, max_side=None)
    assert np.array_equal(alpha_of(frames[-1]), image[..., 3])
    rgb = np.asarray(frames[-1].convert("RGBA"))[..., :3]
    assert np.abs(rgb[image[..., 3] == 255].astype(int) - image[image[..., 3] == 255][:, :3]).mean() < 3


@pytest.mark.parametrize("threshold", [1, 128, 250])
def test_recolour_to_gif_and_png_keeps_transparency(tmp_path, threshold):
    """recolor -o x.gif: transparent below the threshold, palette colours above; PNG keeps soft alpha."""
    image = soft_emoji()
    palette = chromapal.extract(image, 3, alpha_threshold=threshold)
    picture = chromapal.recolor(image, palette, alpha_threshold=threshold)
    save_image(picture, tmp_path / "x.gif")
    save_image(picture, tmp_path / "x.png")
    shown = image[..., 3] >= threshold
    with Image.open(tmp_path / "x.gif") as gif:
        assert gif.mode == "P"
        rgba = np.asarray(gif.convert("RGBA"))
    assert np.array_equal(rgba[..., 3] == 255, shown) and not rgba[..., 3][~shown].any()
    counts, total = counts_in(Image.fromarray(rgba), palette)
    assert total == int(shown.sum()) and np.array_equal(palette.proportions, counts / total)
    with Image.open(tmp_path / "x.png") as png:
        alpha = np.asarray(png.convert("RGBA"))[..., 3]
    assert np.array_equal(alpha, np.where(shown, image[..., 3], 0))


def test_indexed_output_with_hard_alpha_has_one_transparent_entry():
    """Alpha 0/255: a "P" picture whose transparent entry covers exactly the clear pixels."""
    image = soft_emoji()
    image[..., 3] = np.where(image[..., 3] >= 128, 255, 0)
    picture = chromapal.recolor(image, k=3)
    assert picture.mode == "P" and picture.info["transparency"] == 3
    assert np.array_equal(alpha_of(picture), image[..., 3])


# -- the JSON ---------------------------------------------------------------------------------


def test_to_dict_is_what_json_prints(tmp_path):
    """`Palette.to_dict()` equals the CLI's --json for it, names and delta_e included."""
    from click.testing import CliRunner

    from chromapal.cli import main

    path = tmp_path / "p.png"
    Image.fromarray(photo()).save(path)
    result = CliRunner().invoke(main, [str(path), "-k", "5", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    made = chromapal.extract(path, 5, delta_e=True).to_dict()
    assert printed == json.loads(json.dumps(made))
    assert {"name", "xkcd_name"} <= set(made["colors"][0]) and made["delta_e"] > 0


def test_delta_e_survives_a_json_round_trip():
    """from_dict(to_dict()) keeps delta_e; a palette file without it has None."""
    palette = chromapal.extract(photo(), 4, delta_e=True)
    again = Palette.from_dict(json.loads(palette.to_json()))
    assert again.delta_e == round(palette.delta_e, 4)
    assert Palette.from_dict({"colors": [{"hex": "#123456"}]}).delta_e is None
    with pytest.raises(ValueError, match="delta_e"):
        Palette([[1, 2, 3]], [1.0], delta_e=float("nan"))


def test_the_dithering_kernels_oklab_is_oklab():
    """The kernel's Oklab (Halley cube roots) equals colorspace's on every colour of a 6-bit grid and the darkest codes."""
    from chromapal.colorspace import oklab_from_srgb
    from chromapal.dither import oklab_like_kernel

    grid = np.stack(np.meshgrid(*[np.arange(0, 256, 4)] * 3, indexing="ij"), -1).reshape(-1, 3)
    dark = np.stack(np.meshgrid(*[np.arange(0, 6)] * 3, indexing="ij"), -1).reshape(-1, 3)
    rgb = np.vstack([grid, dark, [[255, 255, 255]]]).astype(np.uint8)
    np.testing.assert_allclose(oklab_like_kernel(rgb), oklab_from_srgb(rgb), rtol=0, atol=1e-12)


def test_exact_colour_kernels_agree_with_their_numpy_twins(monkeypatch):
    """distinct_counts and row_stats (on one and on two threads) give the NumPy results."""
    import chromapal.finish as finish

    if assign.KERNELS is None:
        pytest.skip("the compiled kernels are not built")
    rng = np.random.default_rng(11)
    pixels = rng.integers(0, 64, (120, 90, 4), dtype=np.uint8) * 4  # many repeated colours
    pixels[..., 3] = rng.integers(0, 256, (120, 90))
    palette = Palette(rng.integers(0, 256, (6, 3)), np.full(6, 1 / 6))
    palette = Palette(np.vstack([palette.colors, pixels[0, 0, :3]]), np.full(7, 1 / 7))  # a split cell
    rule = rule_for(palette.colors)
    compiled_rows = finish.distinct_counts(pixels, alpha_threshold=77)
    compiled = finish.row_stats(rule, compiled_rows)
    monkeypatch.setattr(finish, "SPLIT_ROWS", 10)  # the two-thread merge
    split = finish.row_stats(rule, compiled_rows)
    monkeypatch.setattr(finish, "KERNELS", None)
    numpy_rows = finish.distinct_counts(pixels, alpha_threshold=77)
    numpy_ = finish.row_stats(rule, numpy_rows)
    assert np.array_equal(compiled_rows.colors, numpy_rows.colors)
    assert np.array_equal(compiled_rows.counts, numpy_rows.counts)
    np.testing.assert_allclose(compiled_rows.lab, numpy_rows.lab, rtol=0, atol=1e-12)
    for result in (compiled, split):
        assert np.array_equal(result[0], numpy_[0]) and np.array_equal(result[1], numpy_[1])
        assert result[2] == pytest.approx(numpy_[2], rel=1e-10)


def test_a_palette_colour_sharing_its_cell_with_a_nearer_colour_keeps_its_pixels():
    """Two palette colours in one cell: each keeps the pixels of exactly its colour, and the shares
    (counted from cells plus a pass for that cell) are the flattened picture's, without delta_e too."""
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (80, 80, 3), dtype=np.uint8)
    image[:20, :20] = (100, 100, 100)
    image[20:40, :20] = (103, 101, 102)  # the same 8x8x8 cell
    palette = chromapal.extract(image, 12)
    labels, counts = flatten_labels(image, rule_for(palette.colors))
    assert np.array_equal(palette.proportions, counts / image[..., 0].size)
    for colour in ((100, 100, 100), (103, 101, 102)):
        if colour in [tuple(c) for c in palette.colors.tolist()]:
            assert (palette.colors[labels[(image == colour).all(-1)]] == colour).all()


def test_the_rule_cache_stays_bounded():
    """However many palettes recolour, at most CACHE_SIZE rules (128 KB tables) are kept, newest last."""
    rng = np.random.default_rng(2)
    palettes = [rng.integers(0, 256, (4, 3)).astype(np.uint8) for _ in range(3 * assign.CACHE_SIZE)]
    for colors in palettes:
        rule_for(colors)
    assert len(assign._RULES) == assign.CACHE_SIZE
    assert rule_for(palettes[-1]) is rule_for(palettes[-1])  # the newest is cached
    assert palettes[0].tobytes() not in assign._RULES  # the oldest were dropped


def test_import_chromapal_stays_light():
    """`import chromapal` loads none of the heavy or network modules (checked in a fresh interpreter)."""
    import subprocess
    import sys

    heavy = ("http.client", "ssl", "concurrent.futures", "multiprocessing", "click", "rich", "matplotlib", "fastapi")
    code = f"import sys, chromapal; print([m for m in {heavy!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("max_side", [0, 300])
def test_recolor_prints_the_shares_of_the_picture_it_writes(tmp_path, max_side):
    """`chromapal recolor` on a large JPEG (palette from a reduced decode), full size or
    --max-side: the printed shares are the written picture's pixel counts, exactly."""
    from click.testing import CliRunner

    from chromapal.cli import main

    rng = np.random.default_rng(7)
    small = rng.integers(0, 256, (24, 32, 3), dtype=np.uint8)
    photo = tmp_path / "big.jpg"
    Image.fromarray(small).resize((1600, 1200), Image.BICUBIC).save(photo, quality=90)  # 1.9 MP: drafted
    out = tmp_path / "flat.png"
    args = [str(photo), "-k", "6", "-o", str(out), "--json", "--max-side", str(max_side)]
    result = CliRunner().invoke(main, ["recolor", *args])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    flat = np.asarray(Image.open(out).convert("RGB")).reshape(-1, 3)
    colors, counts = np.unique(flat, axis=0, return_counts=True)
    written = {"#%02x%02x%02x" % tuple(c): n / len(flat) for c, n in zip(colors, counts, strict=True)}
    assert {c["hex"]: c["proportion"] for c in printed["colors"]} == written
