"""Tests of recolouring: the assignment rule per pixel, indexed output, dithering, alpha."""

from __future__ import annotations

import io
import tracemalloc

import numpy as np
import pytest
from PIL import Image

import chromapal
from chromapal import Palette
from chromapal.colorspace import ciede2000, lab_from_srgb
from chromapal.render.recolor import dithered_indices, nearest_indices, recolor, recolor_pixels

THREE = [(230, 57, 70), (29, 53, 87), (241, 250, 238)]


def three_flat() -> np.ndarray:
    """30x20 RGB image of three flat colour regions of unequal size."""
    image = np.empty((20, 30, 3), np.uint8)
    image[:, :12] = THREE[0]
    image[:8, 12:] = THREE[1]
    image[8:, 12:] = THREE[2]
    return image


def brute_force(pixels: np.ndarray, palette: Palette) -> np.ndarray:
    """The rule from the full pixels-by-colours matrix: least CIEDE2000 from the pixel's cell centre,
    except that a pixel of a palette colour keeps that colour."""
    rgb = pixels[..., :3].astype(np.float64)
    centre = np.floor(rgb / 8) * 8 + 3.5
    d = ciede2000(lab_from_srgb(centre)[..., None, :], lab_from_srgb(palette.colors))
    inside = (np.floor(rgb / 8)[..., None, :] == np.floor(palette.colors / 8)).all(-1)
    d = np.where(inside.any(-1, keepdims=True) & ~inside, np.inf, d)  # palette colours in the cell compete alone
    labels = np.argmin(d, axis=-1)
    for i, colour in enumerate(palette.colors):
        labels[(pixels[..., :3] == colour).all(-1)] = i
    return labels


def test_three_flat_colours_come_back_unchanged():
    """Recolouring a 3-colour image with its k=3 palette reproduces every pixel exactly."""
    image = three_flat()
    out = chromapal.recolor(image, k=3)
    assert out.mode == "P"
    assert np.array_equal(np.asarray(out.convert("RGB")), image)


def test_result_is_an_indexed_png_with_the_palette_as_its_colour_table():
    """Written as PNG the result is palette mode and its colour table is exactly the palette."""
    palette = chromapal.extract(three_flat(), 3)
    buffer = io.BytesIO()
    chromapal.recolor(three_flat(), palette).save(buffer, "PNG")
    with Image.open(buffer) as png:
        assert png.mode == "P"
        table = np.array(png.getpalette(), np.uint8).reshape(-1, 3)[: len(palette)]
        assert np.array_equal(table, palette.colors)
        assert sorted(np.unique(np.asarray(png))) == [0, 1, 2]


@pytest.mark.parametrize("space", ["oklab", "cielab", "srgb"])
def test_each_pixel_gets_its_colour_by_the_rule_whatever_the_space(space):
    """The look-up table gives the same indices as the full distance matrix, in every space."""
    rng = np.random.default_rng(1)
    pixels = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    palette = Palette(rng.integers(0, 256, (7, 3)), np.full(7, 1 / 7), space=space)
    assert np.array_equal(nearest_indices(pixels, palette), brute_force(pixels, palette))


def test_chunk_sizes_do_not_change_the_result(monkeypatch):
    """The NumPy fallback in tiny chunks gives the same indices as the compiled pass."""
    import chromapal.assign as module

    rng = np.random.default_rng(2)
    pixels = rng.integers(0, 256, (33, 17, 3), dtype=np.uint8)
    palette = Palette(rng.integers(0, 256, (5, 3)), np.full(5, 0.2))
    expected = nearest_indices(pixels, palette)
    monkeypatch.setattr(module, "KERNELS", None)
    monkeypatch.setattr(module, "CHUNK", 50)
    assert np.array_equal(nearest_indices(pixels, palette), expected)
    assert np.array_equal(expected, brute_force(pixels, palette))


def test_a_misspelt_space_is_an_error():
    """The space no longer decides the colour, but a wrong name is still refused."""
    with pytest.raises(ValueError, match="unknown colour space"):
        nearest_indices(three_flat(), Palette(THREE, [1 / 3] * 3), space="hsv")


def test_memory_stays_far_below_a_pixels_by_colours_matrix():
    """A 1-megapixel image with k=32 peaks far below the 256 MB a float64 distance matrix needs."""
    rng = np.random.default_rng(3)
    pixels = rng.integers(0, 256, (1000, 1000, 3), dtype=np.uint8)
    palette = Palette(rng.integers(0, 256, (32, 3)), np.full(32, 1 / 32))
    tracemalloc.start()
    try:
        nearest_indices(pixels, palette)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * 2**20  # the labels (1 MB) and a 32,768-cell table


def scanline_floyd_steinberg(pixels: np.ndarray, palette: Palette) -> np.ndarray:
    """Textbook Floyd-Steinberg in Oklab, one pixel at a time, nearest colour in Oklab."""
    from chromapal.colorspace import oklab_from_srgb

    base, centers = oklab_from_srgb(pixels[..., :3]), oklab_from_srgb(palette.colors)
    h, w = pixels.shape[:2]
    err = np.zeros((h + 1, w + 2, 3))
    labels = np.empty((h, w), int)
    for y in range(h):
        for x in range(w):
            value = base[y, x] + err[y, x + 1]
            i = int(np.argmin(((value - centers) ** 2).sum(axis=1)))
            labels[y, x] = i
            e = value - centers[i]
            if x > 0:
                err[y + 1, x] += 3 / 16 * e
            err[y + 1, x + 1] += 5 / 16 * e
            err[y + 1, x + 2] += 1 / 16 * e
            err[y, x + 2] += 7 / 16 * e
    return labels


def test_dithering_equals_scanline_floyd_steinberg():
    """The compiled pass (and its wavefront twin) give the indices of a pixel-by-pixel pass."""
    rng = np.random.default_rng(4)
    pixels = rng.integers(0, 256, (13, 19, 3), dtype=np.uint8)
    palette = Palette(rng.integers(0, 256, (4, 3)), np.full(4, 0.25))
    assert np.array_equal(
        dithered_indices(pixels, palette), scanline_floyd_steinberg(pixels, palette)
    )


def test_dithering_keeps_the_average_tone_of_a_grey_ramp():
    """Dithered in black and white, a grey ramp keeps its mean Oklab lightness; flat does not."""
    from chromapal.colorspace import oklab_from_srgb

    ramp = np.tile(np.linspace(40, 215, 64).astype(np.uint8)[None, :, None], (48, 1, 3))
    palette = Palette([[0, 0, 0], [255, 255, 255]], [0.5, 0.5])

    def mean_l(rgb: np.ndarray) -> float:
        return float(oklab_from_srgb(rgb)[..., 0].mean())

    dithered = np.asarray(recolor_pixels(ramp, palette, dither=True).convert("RGB"))
    flat = np.asarray(recolor_pixels(ramp, palette).convert("RGB"))
    assert abs(mean_l(dithered) - mean_l(ramp)) < 0.01
    assert len(np.unique(dithered[:, 10])) == 2  # a column of mid-grey is a mix of both
    assert abs(mean_l(flat) - mean_l(ramp)) > 0.02


def test_dithering_a_palette_colour_changes_nothing():
    """An image already in palette colours is left as it is by the dithered recolouring."""
    image = three_flat()
    out = recolor_pixels(image, Palette(THREE, [1 / 3] * 3), dither=True)
    assert np.array_equal(np.asarray(out.convert("RGB")), image)


def test_fully_transparent_pixels_stay_transparent_in_an_indexed_image():
    """With alpha only 0 or 255 the result is palette mode with one transparent entry."""
    image = np.dstack([three_flat(), np.full((20, 30), 255, np.uint8)])
    image[:5, :5, 3] = 0
    out = chromapal.recolor(image, k=3)
    assert out.mode == "P" and out.info["transparency"] == 3
    rgba = np.asarray(out.convert("RGBA"))
    assert np.array_equal(rgba[..., 3], image[..., 3])
    assert np.array_equal(rgba[5:, 5:, :3], image[5:, 5:, :3])


def test_partial_alpha_is_kept_in_an_rgba_image():
    """Half-transparent pixels at or above the threshold keep their alpha exactly; the colour is the palette's."""
    image = np.dstack([three_flat(), np.full((20, 30), 255, np.uint8)])
    image[:, :6, 3] = 100
    out = chromapal.recolor(image, k=3, alpha_threshold=50)
    assert out.mode == "RGBA"
    rgba = np.asarray(out)
    assert np.array_equal(rgba[..., 3], image[..., 3])
    assert np.array_equal(rgba[..., :3], image[..., :3])


def test_exif_orientation_is_applied(tmp_path):
    """An image tagged 'rotate 90' is recoloured upright, at its full resolution."""
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated 90 degrees clockwise for display
    path = tmp_path / "tagged.jpg"
    Image.new("RGB", (40, 20), THREE[0]).save(path, exif=exif, quality=95)
    out = chromapal.recolor(path, k=1)
    assert out.size == (20, 40)


def test_file_objects_can_be_recoloured(tmp_path):
    """A binary file object is read once and works for both the palette and the pixels."""
    buffer = io.BytesIO()
    Image.fromarray(three_flat()).save(buffer, "PNG")
    buffer.seek(0)
    out = recolor(buffer, k=3)
    assert np.array_equal(np.asarray(out.convert("RGB")), three_flat())


def test_a_palette_of_more_than_256_colours_is_refused():
    """An indexed image holds at most 256 colours; a bigger palette is a ValueError."""
    rng = np.random.default_rng(5)
    with pytest.raises(ValueError, match="257 colours cannot index an image; the limit is 256"):
        recolor_pixels(three_flat(), Palette(rng.integers(0, 256, (257, 3)), np.full(257, 1 / 257)))
