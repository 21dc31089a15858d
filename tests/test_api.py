"""chromapal.extract: exact answers on synthetic images, sources, determinism, invariants."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import hypothesis.strategies as st
import numpy as np
import pytest
from conftest import BLUE, DATA, GREEN, RED, encode, flat_rows
from hypothesis import given, settings
from hypothesis.extra.numpy import arrays
from PIL import Image

from chromapal import EmptyImageError, Palette, PaletteError, UnreadableImageError, extract

#: Difference allowed between a float sum and the value it should have.
SUM_TOLERANCE = 1e-9
#: Largest per-channel error of a palette colour taken from a lossy JPEG of flat blocks.
JPEG_TOLERANCE = 8
#: Largest error of a share measured on such a JPEG (block edges blur a little).
JPEG_SHARE_TOLERANCE = 0.02
#: Seconds after which a test using the loopback server is failed as hung.
HANG_TIMEOUT = 30
#: Seconds a fresh interpreter may take to import chromapal and extract a small palette.
SUBPROCESS_TIMEOUT = 60
WHITE, BLACK = (255, 255, 255), (0, 0, 0)
SPACES = ["oklab", "cielab", "srgb"]


def colours(palette: Palette) -> list[tuple[int, int, int]]:
    """Return the palette's colours as RGB tuples, in order."""
    return [s.rgb for s in palette]


# -- exact answers ------------------------------------------------------------------------


@pytest.mark.parametrize("space", SPACES)
def test_three_flat_colours_come_back_exactly(bands, space):
    """Red 50 %, green 30 %, blue 20 % with k=3 give exactly those colours and shares."""
    palette = extract(bands, k=3, space=space)

    assert colours(palette) == [RED, GREEN, BLUE]
    assert palette.proportions.tolist() == [0.5, 0.3, 0.2]
    assert palette.note is None and palette.k == 3 and palette.space == space


def test_four_quadrants_give_a_quarter_each():
    """Four flat quadrants and k=4 give those four colours at 25 % each, ties ordered by colour."""
    image = np.zeros((8, 8, 3), np.uint8)
    image[:4, :4], image[:4, 4:], image[4:, :4], image[4:, 4:] = RED, GREEN, BLUE, WHITE

    palette = extract(image, k=4)

    assert sorted(palette.hex) == ["#0000ff", "#00ff00", "#ff0000", "#ffffff"]
    assert palette.proportions.tolist() == [0.25] * 4
    assert palette.hex == sorted(palette.hex)


def test_k_one_is_the_dominant_cluster_covering_everything(bands):
    """With k=1 there is one colour with share 1."""
    palette = extract(bands, k=1)

    assert len(palette) == 1 and palette.proportions.tolist() == [1.0]


def test_two_far_apart_groups_split_cleanly():
    """Two groups of near colours far apart give one colour per group with the group's share."""
    image = flat_rows([((250, 0, 0), 3), ((254, 2, 0), 3), ((0, 0, 250), 2), ((2, 0, 254), 2)])

    palette = extract(image, k=2)

    assert palette.proportions.tolist() == [0.6, 0.4]
    assert palette[0].rgb[0] >= 250 and palette[1].rgb[2] >= 250


@pytest.mark.parametrize("k", [3, 4, 8, 256])
def test_fewer_distinct_colours_than_k_gives_them_all_and_a_note(bands, k):
    """An image with 3 colours asked for more gives exactly those 3 and a note saying so."""
    palette = extract(bands, k=k)

    assert colours(palette) == [RED, GREEN, BLUE]
    expected_note = None if k == 3 else f"the image has only 3 distinct colours, fewer than k={k}"
    assert palette.note == expected_note
    assert palette.to_dict().get("note") == expected_note


def test_one_colour_note_is_singular():
    """A flat image's note says '1 distinct colour'."""
    palette = extract(np.full((4, 4, 3), 7, np.uint8), k=2)

    assert palette.note == "the image has only 1 distinct colour, fewer than k=2"


@pytest.mark.parametrize("k", [1, 5, 16, 64])
def test_at_least_k_distinct_colours_give_exactly_k(small_photo, k):
    """A photo with thousands of colours gives exactly k distinct colours and no note."""
    palette = extract(small_photo, k=k)

    assert len(palette) == k and len(set(palette.hex)) == k and palette.note is None


# -- transparency -------------------------------------------------------------------------


def test_transparent_pixels_are_left_out_not_black():
    """Fully transparent black pixels are ignored: half red, half transparent gives red 100 %."""
    image = flat_rows([((255, 0, 0, 255), 5), ((0, 0, 0, 0), 5)])

    palette = extract(image, k=2)

    assert colours(palette) == [RED] and palette.proportions.tolist() == [1.0]


def test_alpha_threshold_decides_which_pixels_count():
    """By default alpha 128 counts and 127 does not; alpha_threshold moves the line."""
    image = flat_rows([((255, 0, 0, 128), 6), ((0, 0, 255, 127), 4)])

    assert colours(extract(image, k=2)) == [RED]
    assert colours(extract(image, k=2, alpha_threshold=127)) == [RED, BLUE]
    with pytest.raises(EmptyImageError, match=r"alpha below 129"):
        extract(image, k=2, alpha_threshold=129)


def test_fully_transparent_image_is_a_clear_error():
    """An image with every pixel transparent raises EmptyImageError naming the input."""
    image = Image.new("RGBA", (4, 4), (10, 20, 30, 0))

    with pytest.raises(EmptyImageError) as info:
        extract(encode(image, "PNG"))
    assert str(info.value) == (
        "<bytes>: every pixel is transparent (alpha below 128); nothing to take colours from"
    )


def test_transparent_palette_png_leaves_out_the_transparent_index(bands):
    """A P-mode PNG whose red index is transparent gives green and blue only."""
    image = Image.fromarray(bands).quantize(3)
    red_index = image.getpixel((0, 0))

    palette = extract(encode(image, "PNG", transparency=red_index), k=3)

    assert colours(palette) == [GREEN, BLUE] and palette.proportions.tolist() == [0.6, 0.4]


# -- formats and modes through extract -----------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "options"),
    [("PNG", {}), ("GIF", {}), ("WEBP", {"lossless": True}), ("BMP", {}), ("TIFF", {})],
)
def test_lossless_formats_give_the_exact_palette(bands, fmt, options):
    """Through PNG, GIF, lossless WebP, BMP and TIFF files the 50/30/20 answer is exact."""
    palette = extract(encode(Image.fromarray(bands), fmt, **options), k=3)

    assert colours(palette) == [RED, GREEN, BLUE] and palette.proportions.tolist() == [
        0.5,
        0.3,
        0.2,
    ]


def test_jpeg_gives_the_flat_colours_within_tolerance():
    """A JPEG of 16-pixel flat blocks gives colours close to the originals and their shares."""
    image = flat_rows([(RED, 32), (GREEN, 16), (BLUE, 16)], width=16)

    palette = extract(encode(Image.fromarray(image), "JPEG", quality=95, subsampling=0), k=3)

    got = np.array(
        [palette[0].rgb, *sorted(colours(palette)[1:])], int
    )  # green and blue tie at 25 %
    assert np.abs(got - np.array([RED, BLUE, GREEN])).max() <= JPEG_TOLERANCE
    assert palette.proportions == pytest.approx([0.5, 0.25, 0.25], abs=JPEG_SHARE_TOLERANCE)


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (Image.new("L", (4, 4), 100), [(100, 100, 100)]),
        (Image.new("1", (4, 4), 1), [WHITE]),
        (Image.new("LA", (4, 4), (100, 255)), [(100, 100, 100)]),
        (Image.new("CMYK", (4, 4), (0, 255, 255, 0)), [RED]),
        (Image.fromarray(np.full((4, 4), 257 * 100, np.uint16)), [(100, 100, 100)]),
        (Image.new("RGBA", (4, 4), (1, 2, 3, 255)), [(1, 2, 3)]),
        (Image.new("P", (4, 4), 0), [BLACK]),
    ],
    ids=["L", "1", "LA", "CMYK", "I;16", "RGBA", "P"],
)
def test_each_mode_gives_its_colour(image, expected):
    """Flat L, 1, LA, CMYK, I;16, RGBA and P images give their one colour, saved as PNG/TIFF too."""
    assert colours(extract(image, k=2)) == expected
    fmt = "TIFF" if image.mode == "CMYK" else "PNG"
    assert colours(extract(encode(image, fmt), k=2)) == expected


def test_animated_gif_first_frame_or_all_frames():
    """A red-then-blue GIF gives red alone, or red and blue 50/50 with frames='all'."""
    data = encode(
        Image.new("RGB", (4, 4), RED),
        "GIF",
        save_all=True,
        append_images=[Image.new("RGB", (4, 4), BLUE)],
    )

    assert colours(extract(data, k=2)) == [RED]
    pooled = extract(data, k=2, frames="all")
    assert sorted(colours(pooled)) == [BLUE, RED] and pooled.proportions.tolist() == [0.5, 0.5]


def test_exif_orientation_does_not_change_or_break_the_palette():
    """A JPEG with an EXIF orientation tag gives the same palette as without it."""
    image = Image.fromarray(flat_rows([(RED, 32), (BLUE, 32)], width=32))
    exif = Image.Exif()
    exif[0x0112] = 8

    tagged = extract(encode(image, "JPEG", quality=95, exif=exif.tobytes()), k=2)

    assert tagged == extract(encode(image, "JPEG", quality=95), k=2)


# -- sources ------------------------------------------------------------------------------


@pytest.mark.timeout(HANG_TIMEOUT)
def test_every_source_type_gives_the_same_palette(tmp_path, http_server, small_photo):
    """A path (str or Path), URL, bytes, file object, PIL image and array give one palette."""
    data = encode(small_photo, "PNG")
    path = tmp_path / "photo.png"
    path.write_bytes(data)
    expected = extract(np.asarray(small_photo), k=5)

    with open(path, "rb") as fp:
        from_file = extract(fp, k=5)
    sources = [str(path), path, f"{http_server}/photo.png", data, io.BytesIO(data), small_photo]

    for source in [*sources, from_file]:
        got = source if isinstance(source, Palette) else extract(source, k=5)
        assert got.hex == expected.hex and got.proportions.tolist() == expected.proportions.tolist()
    assert extract(path, k=5).source == str(path)


def test_rgba_array_source(bands):
    """An (H, W, 4) uint8 array is accepted and its alpha respected."""
    rgba = np.concatenate([bands, np.full((10, 10, 1), 255, np.uint8)], axis=2)
    rgba[:5, :, 3] = 0

    assert colours(extract(rgba, k=3)) == [GREEN, BLUE]


@pytest.mark.parametrize(
    ("array", "error", "message"),
    [
        (np.full((4, 4, 3), 2.0, np.float32), ValueError, r"float32 must hold values in \[0, 1\]"),
        (np.zeros((4, 4, 3), np.int64), TypeError, r"must be uint8, uint16 or float in \[0, 1\] \(got int64\)"),
        (
            np.zeros((4, 4, 5), np.uint8),
            ValueError,
            r"must have shape \(H, W, 3\), \(H, W, 4\), \(H, W\) or \(H, W, 1\) .*\(got \(4, 4, 5\)\)",
        ),
        (np.zeros((4, 4, 2), np.uint8), ValueError, r"\(got \(4, 4, 2\)\)"),
    ],
)
def test_bad_arrays_are_clear_type_or_value_errors(array, error, message):
    """Arrays of the wrong dtype or shape raise TypeError / ValueError, not a PaletteError."""
    with pytest.raises(error, match=message) as info:
        extract(array)
    assert not isinstance(info.value, PaletteError)


@pytest.mark.parametrize(
    ("k", "error"),
    [(0, ValueError), (257, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)],
)
def test_k_outside_1_to_256_is_an_error(bands, k, error):
    """K must be an integer from 1 to 256."""
    with pytest.raises(error, match="k must be"):
        extract(bands, k=k)


def test_unknown_space_is_a_value_error(bands):
    """An unknown colour space names the accepted ones."""
    with pytest.raises(
        ValueError, match=r"unknown colour space 'xyz'; expected one of oklab, cielab, srgb"
    ):
        extract(bands, space="xyz")


def test_unreadable_sources_raise_palette_errors(tmp_path):
    """A missing path raises UnreadableImageError, a PaletteError and a ValueError."""
    with pytest.raises(UnreadableImageError) as info:
        extract(tmp_path / "nope.png")
    assert isinstance(info.value, PaletteError) and isinstance(info.value, ValueError)


# -- determinism --------------------------------------------------------------------------


def test_repeated_runs_give_identical_palettes(small_photo):
    """Ten runs with the same input and options give equal palettes."""
    first = extract(small_photo, k=8, space="cielab", seed=3)

    for _ in range(10):
        assert extract(small_photo, k=8, space="cielab", seed=3) == first


@pytest.mark.timeout(2 * SUBPROCESS_TIMEOUT)
def test_fresh_interpreter_gives_the_same_palette(photo_files):
    """A new Python process (other hash seed) gives the same palettes as this one."""
    runs = [(str(photo_files["jpg"]), 6, "oklab"), (str(DATA / "kodim23.png"), 12, "cielab")]
    here = [extract(path, k=k, space=space).to_dict() for path, k, space in runs]
    code = (
        "import json, sys, chromapal; "
        "print(json.dumps([chromapal.extract(p, k=k, space=s).to_dict() for p, k, s in "
        "json.loads(sys.argv[1])]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}

    done = subprocess.run(
        [sys.executable, "-c", code, json.dumps(runs)],
        capture_output=True,
        text=True,
        env=env,
        timeout=SUBPROCESS_TIMEOUT,
        check=True,
    )

    assert json.loads(done.stdout) == here


# -- invariants ---------------------------------------------------------------------------

_images = st.integers(1, 12).flatmap(
    lambda h: st.integers(1, 12).flatmap(
        lambda w: arrays(np.uint8, (h, w, 3), elements=st.integers(0, 255))
    )
)
_few_colour_images = st.tuples(
    st.lists(st.tuples(*[st.integers(0, 255)] * 3), min_size=1, max_size=6, unique=True),
    st.lists(st.integers(0, 5), min_size=1, max_size=80),
).map(lambda t: np.array([t[0][i % len(t[0])] for i in t[1]], np.uint8).reshape(-1, 1, 3))


def _check_invariants(palette: Palette, image: np.ndarray, k: int) -> None:
    opaque = image.reshape(-1, image.shape[-1])
    if image.shape[-1] == 4:
        opaque = opaque[opaque[:, 3] >= 128]
    distinct = len(np.unique(opaque[:, :3], axis=0))
    props = palette.proportions
    assert abs(props.sum() - 1.0) < SUM_TOLERANCE
    assert len(palette) == min(k, distinct)
    assert len(set(palette.hex)) == len(palette)
    assert palette.colors.dtype == np.uint8 and palette.colors.shape == (len(palette), 3)
    assert np.all(props > 0) and np.all(np.diff(props) <= 0)
    assert (palette.note is not None) == (distinct < k)


@settings(max_examples=150, deadline=None)
@given(
    image=st.one_of(_images, _few_colour_images),
    k=st.integers(1, 16),
    space=st.sampled_from(SPACES),
)
def test_palette_invariants_hold_for_any_image(image, k, space):
    """Shares sum to 1; min(k, distinct) distinct in-gamut colours, by decreasing share."""
    _check_invariants(extract(image, k=k, space=space), image, k)


@settings(max_examples=60, deadline=None)
@given(
    image=arrays(np.uint8, st.tuples(st.integers(1, 8), st.integers(1, 8), st.just(4))),
    k=st.integers(1, 8),
)
def test_invariants_hold_with_alpha_or_the_image_is_empty(image, k):
    """RGBA images give a valid palette of their opaque pixels, or EmptyImageError if none."""
    if not (image[..., 3] >= 128).any():
        with pytest.raises(EmptyImageError):
            extract(image, k=k)
        return
    _check_invariants(extract(image, k=k), image, k)


@settings(max_examples=40, deadline=None)
@given(image=_images, k=st.integers(1, 16), seed=st.integers(0, 2**32 - 1))
def test_same_seed_same_palette(image, k, seed):
    """The same image, k and seed always give an equal palette."""
    assert extract(image, k=k, seed=seed) == extract(image.copy(), k=k, seed=seed)
