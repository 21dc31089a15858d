"""chromapal.load: every source, format and mode decodes to uint8 sRGB(A); bad input, one error."""

from __future__ import annotations

import io
import logging
import os
import re
import struct
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import BLUE, GREEN, RED, SMALL_SIZE, declare_size, encode, flat_rows, png_with_size
from PIL import Image

from chromapal import ImageTooLargeError, PaletteError, SourceError, UnreadableImageError
from chromapal import fetch as fetch_module
from chromapal.fetch import fetch_url
from chromapal.jpeg import MAX_SCANS, check_jpeg
from chromapal.load import MAX_FRAMES, describe, load_image, quiet_decoders

#: Largest per-channel error allowed after a lossy JPEG round trip of flat colour blocks.
JPEG_TOLERANCE = 8
#: Seconds given to URL fetches in the timeout tests, and the slack allowed on top.
TEST_URL_TIMEOUT = 0.5
TIMEOUT_SLACK = 1.0
#: Seconds within which a header-only refusal must come (no decoding happens).
FAST_FAIL_SECONDS = 1.0
#: Seconds after which a test that could hang (loopback server, decoding) is failed.
HANG_TIMEOUT = 30


def pixels(source: object, **options: object) -> np.ndarray:
    """Return the decoded pixels of `source`."""
    return load_image(source, **options).pixels  # type: ignore[arg-type]


# -- formats ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "options"),
    [
        ("PNG", {}),
        ("GIF", {}),
        ("WEBP", {"lossless": True}),
        ("BMP", {}),
        ("TIFF", {}),
        ("TIFF", {"compression": "tiff_lzw"}),
    ],
)
def test_lossless_formats_round_trip_exactly(bands, fmt, options):
    """PNG, GIF, lossless WebP, BMP and TIFF give back exactly the pixels saved."""
    data = encode(Image.fromarray(bands), fmt, **options)

    assert np.array_equal(pixels(data), bands)


def test_jpeg_decodes_close_to_the_original():
    """A JPEG of 16-pixel flat blocks decodes within a small tolerance of the original."""
    image = flat_rows([(RED, 16), (GREEN, 16), (BLUE, 16)], width=16)

    decoded = pixels(encode(Image.fromarray(image), "JPEG", quality=95, subsampling=0))

    assert decoded.shape == image.shape
    assert np.abs(decoded.astype(int) - image).max() <= JPEG_TOLERANCE


def test_photo_decodes_in_every_format(photo_files, small_photo):
    """The 96x64 photo decodes from PNG, JPEG, GIF, WebP and TIFF files at its size."""
    width, height = SMALL_SIZE
    for path in photo_files.values():
        decoded = pixels(path)
        assert decoded.shape == (height, width, 3), path.name
    assert np.array_equal(pixels(photo_files["png"]), np.asarray(small_photo))


def test_gif_first_frame_by_default_and_all_frames_pooled():
    """An animated GIF gives its first frame, or every frame stacked with frames='all'."""
    red, blue = (Image.new("RGB", (4, 3), c) for c in (RED, BLUE))
    data = encode(red, "GIF", save_all=True, append_images=[blue], duration=100, loop=0)

    first = pixels(data)
    pooled = pixels(data, frames="all")

    assert first.shape == (3, 4, 3) and np.all(first == RED)
    assert pooled.shape[0] * pooled.shape[1] == 2 * 12
    colors, counts = np.unique(
        pooled.reshape(-1, pooled.shape[-1])[:, :3], axis=0, return_counts=True
    )
    assert sorted(map(tuple, colors.tolist())) == [BLUE, RED] and counts.tolist() == [12, 12]


def test_multipage_tiff_pages_are_pooled():
    """frames='all' pools the pages of a multi-page TIFF, even of different sizes."""
    data = encode(
        Image.new("RGB", (2, 2), RED),
        "TIFF",
        save_all=True,
        append_images=[Image.new("RGB", (3, 1), BLUE)],
    )

    pooled = pixels(data, frames="all").reshape(-1, 3)

    assert len(pooled) == 4 + 3
    assert (pooled == RED).all(axis=1).sum() == 4 and (pooled == BLUE).all(axis=1).sum() == 3


def test_pooled_frames_are_checked_against_the_pixel_limit():
    """The pixel limit applies to all pooled frames together."""
    data = encode(
        Image.new("RGB", (10, 10), RED),
        "GIF",
        save_all=True,
        append_images=[Image.new("RGB", (10, 10), BLUE)],
    )

    assert pixels(data, max_pixels=100).shape[:2] == (10, 10)
    with pytest.raises(
        ImageTooLargeError, match=r"^<bytes>: its frames hold over 100 pixels in all"
    ):
        load_image(data, frames="all", max_pixels=100)


def _declare_second_page_size(data: bytearray, width: int, height: int) -> None:
    """Rewrite the size of page 2 of a little-endian TIFF in place."""
    (ifd,) = struct.unpack("<I", data[4:8])
    count = struct.unpack("<H", data[ifd : ifd + 2])[0]
    (ifd,) = struct.unpack("<I", data[ifd + 2 + 12 * count : ifd + 6 + 12 * count])
    for i in range(struct.unpack("<H", data[ifd : ifd + 2])[0]):
        at = ifd + 2 + 12 * i
        tag = struct.unpack("<H", data[at : at + 2])[0]
        if tag in (256, 257):
            data[at + 2 : at + 12] = struct.pack("<HII", 4, 1, width if tag == 256 else height)


@pytest.mark.timeout(HANG_TIMEOUT)
def test_huge_later_page_is_refused_before_decoding():
    """A TIFF whose second page declares 100000x100000 pixels fails fast with frames='all'."""
    data = bytearray(
        encode(
            Image.new("RGB", (4, 4), RED),
            "TIFF",
            save_all=True,
            append_images=[Image.new("RGB", (4, 4), BLUE)],
        )
    )
    _declare_second_page_size(data, 100_000, 100_000)
    start = time.perf_counter()

    assert pixels(bytes(data)).shape == (4, 4, 3)
    with pytest.raises(
        ImageTooLargeError, match=r"^<bytes>: its frames hold over 89,478,485 pixels"
    ):
        load_image(bytes(data), frames="all")
    assert time.perf_counter() - start < FAST_FAIL_SECONDS


def many_frames_gif(count: int) -> bytes:
    """A 1x1 GIF of `count` frames alternating red and blue, written byte by byte (fast for 100,000)."""
    head = b"GIF89a" + bytes([1, 0, 1, 0, 0x80, 0, 0]) + bytes([*RED, *BLUE])  # 2-colour global table
    frames = [
        b"\x21\xf9\x04\x00\x0a\x00\x00\x00"  # graphic control: 0.1 s
        + b"\x2c" + bytes([0, 0, 0, 0, 1, 0, 1, 0, 0])  # image descriptor: 1x1 at 0,0
        + b"\x02\x02" + lzw + b"\x00"  # LZW codes clear, index, end (3 bits each)
        for lzw in (b"\x44\x01", b"\x4c\x01")
    ]
    return head + b"".join(frames[i % 2] for i in range(count)) + b"\x3b"


@pytest.mark.timeout(HANG_TIMEOUT)
def test_frames_all_has_a_frame_cap():
    """A GIF of 100,000 1x1 frames: frames='all' stops at MAX_FRAMES with an error, fast; 'first' is fine."""
    data = many_frames_gif(100_000)
    start = time.perf_counter()

    with pytest.raises(
        ImageTooLargeError, match=rf"^<bytes>: over {MAX_FRAMES:,} frames with frames='all' .*raise max_frames\)$"
    ):
        load_image(data, frames="all")
    assert pixels(data).shape == (1, 1, 3)
    assert time.perf_counter() - start < FAST_FAIL_SECONDS


def test_max_frames_is_configurable():
    """max_frames=N accepts N frames and refuses N + 1."""
    data = many_frames_gif(5)

    assert pixels(data, frames="all", max_frames=5).reshape(-1, 3).tolist() == [
        list(RED), list(BLUE), list(RED), list(BLUE), list(RED)
    ]
    with pytest.raises(ImageTooLargeError, match=r"over 4 frames"):
        load_image(data, frames="all", max_frames=4)


def test_unknown_frames_value_is_a_value_error(bands):
    """Frames must be 'first' or 'all'."""
    with pytest.raises(ValueError, match=r"frames must be 'first' or 'all' \(got 'every'\)"):
        load_image(bands, frames="every")  # type: ignore[arg-type]


# -- modes --------------------------------------------------------------------------------


def test_palette_mode_without_transparency_is_rgb(bands):
    """A P-mode PNG decodes to the RGB colours of its palette."""
    image = Image.fromarray(bands).quantize(3)
    assert image.mode == "P"

    assert np.array_equal(pixels(encode(image, "PNG")), bands)


def test_palette_mode_with_transparency_keeps_alpha(bands):
    """A P-mode PNG with a transparent index decodes to RGBA with that index at alpha 0."""
    image = Image.fromarray(bands).quantize(3)
    red_index = image.getpixel((0, 0))
    image.info["transparency"] = red_index

    decoded = pixels(encode(image, "PNG", transparency=red_index))

    assert decoded.shape == (10, 10, 4)
    assert np.all(decoded[:5, :, 3] == 0) and np.all(decoded[5:, :, 3] == 255)
    assert np.array_equal(decoded[5:, :, :3], bands[5:])


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("L", 100, (100, 100, 100)),
        ("1", 1, (255, 255, 255)),
        ("RGB", (10, 20, 30), (10, 20, 30)),
        ("CMYK", (0, 255, 255, 0), RED),
        ("CMYK", (0, 0, 0, 255), (0, 0, 0)),
        ("I", 200, (200, 200, 200)),
        ("I", 40000, (156, 156, 156)),
        ("F", 0.5, (128, 128, 128)),
    ],
)
def test_opaque_modes_decode_to_rgb(mode, value, expected):
    """L, 1, RGB, CMYK, I and F images decode to 3-channel uint8 with the expected colour."""
    decoded = pixels(Image.new(mode, (3, 2), value))

    assert decoded.shape == (2, 3, 3) and decoded.dtype == np.uint8
    assert np.all(decoded == expected)


@pytest.mark.parametrize(
    ("mode", "value", "expected"),
    [
        ("LA", (100, 50), (100, 100, 100, 50)),
        ("RGBA", (1, 2, 3, 4), (1, 2, 3, 4)),
        ("PA", None, (255, 0, 0, 60)),
        ("La", (100, 255), (100, 100, 100, 255)),
        ("RGBa", (10, 20, 30, 255), (10, 20, 30, 255)),
    ],
)
def test_alpha_modes_decode_to_rgba(mode, value, expected):
    """LA, RGBA, PA and the premultiplied modes decode to 4-channel uint8 keeping alpha."""
    if mode == "PA":
        image = Image.new("RGBA", (3, 2), (255, 0, 0, 60)).convert("PA")
    else:
        image = Image.new(mode, (3, 2), value)

    decoded = pixels(image)

    assert decoded.shape == (2, 3, 4)
    assert np.all(decoded == expected)


def test_sixteen_bit_greyscale_png_scales_to_eight_bits():
    """A 16-bit greyscale PNG (mode I;16) maps 0..65535 onto 0..255."""
    values = np.array([[0, 257 * 100, 65535]], np.uint16)
    data = encode(Image.fromarray(values), "PNG")
    assert Image.open(io.BytesIO(data)).mode == "I;16"

    decoded = pixels(data)

    assert decoded[0, :, 0].tolist() == [0, 100, 255]
    assert np.array_equal(decoded[..., 0], decoded[..., 2])


def test_big_endian_sixteen_bit_tiff_scales_to_eight_bits():
    """A big-endian 16-bit TIFF (mode I;16B) decodes like the little-endian one."""
    raw = np.array([[0, 257 * 100, 65535]], ">u2").tobytes()
    data = encode(Image.frombytes("I;16B", (3, 1), raw), "TIFF")

    assert pixels(data)[0, :, 0].tolist() == [0, 100, 255]


def test_cmyk_jpeg_decodes_to_rgb():
    """A CMYK JPEG decodes to RGB close to the colour it was saved with."""
    data = encode(Image.new("CMYK", (16, 16), (0, 255, 255, 0)), "JPEG", quality=95)

    decoded = pixels(data)

    assert decoded.shape == (16, 16, 3)
    assert np.abs(decoded.astype(int) - RED).max() <= JPEG_TOLERANCE


def _with_orientation(image: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(image, "JPEG", exif=exif.tobytes())


def test_exif_orientation_is_ignored_unless_upright():
    """A JPEG with an EXIF rotation loads as stored, or rotated with upright=True."""
    data = _with_orientation(Image.new("RGB", (32, 16), RED), 6)

    assert pixels(data).shape == (16, 32, 3)
    assert pixels(data, upright=True).shape == (32, 16, 3)


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
def test_broken_exif_block_does_not_crash():
    """A JPEG whose EXIF block is garbage still loads, upright or not."""
    data = encode(Image.new("RGB", (8, 8), RED), "JPEG", exif=b"Exif\0\0" + b"\xff" * 40)

    assert pixels(data).shape == (8, 8, 3)
    assert pixels(data, upright=True).shape == (8, 8, 3)


# -- sources ------------------------------------------------------------------------------


def test_every_source_type_gives_the_same_pixels(tmp_path, bands, monkeypatch):
    """A path (str or Path), bytes, bytearray, memoryview, file object and PIL image agree."""
    data = encode(Image.fromarray(bands), "PNG")
    path = tmp_path / "bands.png"
    path.write_bytes(data)
    monkeypatch.chdir(tmp_path)

    with open(path, "rb") as fp:
        from_file = pixels(fp)
    sources = [
        str(path),
        path,
        "bands.png",
        data,
        bytearray(data),
        memoryview(data),
        io.BytesIO(data),
    ]

    for source in sources:
        assert np.array_equal(pixels(source), bands), repr(source)[:40]
    assert np.array_equal(from_file, bands)
    assert np.array_equal(pixels(Image.fromarray(bands)), bands)


@pytest.mark.parametrize("channels", [3, 4])
def test_uint8_arrays_are_used_as_they_are(channels):
    """An (H, W, 3) or (H, W, 4) uint8 array is returned unchanged."""
    arr = np.arange(2 * 3 * channels, dtype=np.uint8).reshape(2, 3, channels)

    assert np.array_equal(pixels(arr), arr)


def test_non_contiguous_arrays_are_accepted():
    """A strided view (e.g. every other column) is accepted."""
    arr = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)[:, ::2]

    assert np.array_equal(pixels(arr), arr)


# Arrays of other dtypes and shapes: tests/test_arrays.py.


@pytest.mark.parametrize("source", [42, 3.5, None, ["a.png"]])
def test_unsupported_source_types_are_a_type_error(source):
    """Sources of no supported type raise a TypeError listing what is accepted."""
    with pytest.raises(
        TypeError, match="expected a path, URL, bytes, binary file, PIL image or uint8 array"
    ):
        load_image(source)


def test_text_mode_file_is_a_type_error(tmp_path):
    """A file opened in text mode raises a TypeError asking for binary mode."""
    path = tmp_path / "x.png"
    path.write_text("text")

    with open(path) as fp, pytest.raises(TypeError, match=r"opened in binary mode"):
        load_image(fp)


def test_callers_pil_image_is_left_as_it_was():
    """Loading all frames of a caller's animated image leaves it on the frame it was on."""
    data = encode(
        Image.new("RGB", (4, 4), RED),
        "GIF",
        save_all=True,
        append_images=[Image.new("RGB", (4, 4), BLUE)],
    )
    image = Image.open(io.BytesIO(data))
    image.seek(1)

    load_image(image, frames="all")

    assert image.tell() == 1


@pytest.mark.parametrize(
    ("source", "name"),
    [
        ("a.png", "a.png"),
        (Path("d/b.png"), "d/b.png"),
        (b"x", "<bytes>"),
        (np.zeros((1, 1, 3), np.uint8), "<array>"),
        (Image.new("RGB", (1, 1)), "<PIL image>"),
        (io.BytesIO(b"x"), "<file>"),
        ("bad\nname.png", "bad\\nname.png"),
    ],
)
def test_describe_gives_a_one_line_name(source, name):
    """Each source type has a short printable name; control characters are escaped."""
    assert describe(source) == name


# -- unusable input -----------------------------------------------------------------------


def test_missing_file(tmp_path, monkeypatch):
    """A missing file is 'NAME: no such file'."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UnreadableImageError, match=r"^nope\.png: no such file$"):
        load_image("nope.png")


def test_directory(tmp_path, monkeypatch):
    """A directory is 'NAME: is a directory, not an image'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "folder").mkdir()
    with pytest.raises(UnreadableImageError, match=r"^folder: is a directory, not an image$"):
        load_image("folder")


def test_empty_file_and_empty_bytes(tmp_path, monkeypatch):
    """Zero bytes, as a file, bytes or a file object, is 'NAME: empty ..., not an image'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "empty.png").write_bytes(b"")

    with pytest.raises(UnreadableImageError, match=r"^empty\.png: empty file, not an image$"):
        load_image("empty.png")
    with pytest.raises(UnreadableImageError, match=r"^<bytes>: empty input, not an image$"):
        load_image(b"")
    with pytest.raises(UnreadableImageError, match=r"^<file>: empty input, not an image$"):
        load_image(io.BytesIO())


def test_not_an_image(tmp_path, monkeypatch):
    """A text file is 'NAME: not an image (...)'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "notes.png").write_text("shopping list")

    with pytest.raises(
        UnreadableImageError, match=r"^notes\.png: not an image \(or a format Pillow cannot read\)$"
    ):
        load_image("notes.png")


@pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning")
@pytest.mark.parametrize("ext", ["png", "jpg", "gif", "webp", "tif"])
def test_truncated_files_are_errors_not_grey(photo_files, tmp_path, ext):
    """A file cut in half is an UnreadableImageError naming the file, never padded pixels."""
    data = photo_files[ext].read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(data[: len(data) // 2])

    with pytest.raises(UnreadableImageError, match=rf"^{re.escape(str(cut))}: ") as info:
        load_image(cut)
    assert "\n" not in str(info.value)


def test_truncated_png_says_truncated(photo_files, tmp_path):
    """The message for a truncated PNG says so."""
    cut = tmp_path / "cut.png"
    cut.write_bytes(photo_files["png"].read_bytes()[:2000])

    with pytest.raises(
        UnreadableImageError,
        match=r"cut\.png: the file is truncated \(OSError: image file is truncated\)$",
    ):
        load_image(cut)


def test_corrupt_png_data(photo_files):
    """A PNG with damaged pixel data raises UnreadableImageError with the decoder's cause."""
    data = bytearray(photo_files["png"].read_bytes())
    start = data.index(b"IDAT") + 4
    data[start + 10 : start + 200] = bytes(190)  # zeroed deflate stream; CRC now wrong too

    with pytest.raises(UnreadableImageError, match=r"^<bytes>: .*(Error|broken)"):
        load_image(bytes(data))


def test_declared_huge_dimensions_are_refused_before_decoding():
    """A header declaring 100000x100000 pixels is an ImageTooLargeError, quickly."""
    start = time.perf_counter()
    with pytest.raises(
        ImageTooLargeError, match=r"^<bytes>: 10,000,000,000 pixels is over the limit of 89,478,485"
    ):
        load_image(png_with_size(100_000, 100_000))
    assert time.perf_counter() - start < FAST_FAIL_SECONDS


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_pixel_limit_between_ours_and_pillows_is_ours():
    """Just over the default limit (where Pillow only warns) is refused with our message."""
    with pytest.raises(
        ImageTooLargeError,
        match=r"^<bytes>: 10000x9000 = 90,000,000 pixels is over the limit of 89,478,485 ",
    ):
        load_image(png_with_size(10_000, 9_000))


def test_max_pixels_is_configurable(bands):
    """max_pixels lowers the limit; the message gives the size and how to raise it."""
    data = encode(Image.fromarray(bands), "PNG")

    with pytest.raises(ImageTooLargeError) as info:
        load_image(data, max_pixels=99)
    assert str(info.value) == (
        "<bytes>: 10x10 = 100 pixels is over the limit of 99 "
        "(a decompression-bomb guard; raise it with max_pixels or --max-pixels)"
    )
    assert pixels(data, max_pixels=100).shape == (10, 10, 3)


@pytest.mark.parametrize(
    ("source", "error"),
    [(b"not an image", UnreadableImageError), (png_with_size(10**5, 10**5), ImageTooLargeError)],
)
def test_errors_are_palette_errors_and_value_errors(source, error):
    """Load errors are PaletteErrors and ValueErrors, so either kind of handler catches them."""
    with pytest.raises(error) as info:
        load_image(source)

    assert isinstance(info.value, PaletteError) and isinstance(info.value, ValueError)


# -- URLs ---------------------------------------------------------------------------------


@pytest.fixture
def short_url_limits(monkeypatch):
    """URL fetches time out after TEST_URL_TIMEOUT s and accept at most 100,000 bytes."""
    monkeypatch.setattr(fetch_module, "URL_TIMEOUT", TEST_URL_TIMEOUT)
    monkeypatch.setattr(fetch_module, "URL_MAX_BYTES", 100_000)


@pytest.mark.timeout(HANG_TIMEOUT)
def test_url_is_fetched_and_decoded(http_server, small_photo):
    """An http URL to a PNG gives the PNG's pixels and is named by the URL."""
    loaded = load_image(f"{http_server}/photo.png")

    assert np.array_equal(loaded.pixels, np.asarray(small_photo))
    assert loaded.name == f"{http_server}/photo.png"


@pytest.mark.timeout(HANG_TIMEOUT)
@pytest.mark.parametrize(
    ("route", "message"),
    [
        ("/page.html", r"the server sent text/html, not an image$"),
        ("/nothing-here", r"the server answered 404 Not Found"),
        ("/huge", r"1,000,000,000,000 bytes is over the 100,000-byte limit"),
        ("/endless", r"more than the 100,000-byte limit"),
        ("/not-http", r"broken HTTP answer \(BadStatusLine: "),
        ("/cut-short", r"the connection closed after 6 of 5,000 bytes$"),
    ],
)
def test_bad_urls_are_one_line_errors(http_server, short_url_limits, route, message):
    """Non-image, missing, oversized and broken answers: an error naming the URL and the cause."""
    url = f"{http_server}{route}"

    with pytest.raises(UnreadableImageError, match=rf"^{re.escape(url)}: {message}"):
        load_image(url)


@pytest.mark.timeout(HANG_TIMEOUT)
def test_unreachable_url(closed_port_url):
    """Nothing listening is a SourceError 'URL: cannot be reached (...)'."""
    with pytest.raises(
        SourceError, match=rf"^{re.escape(closed_port_url)}: cannot be reached \(.*refused"
    ):
        load_image(closed_port_url)


@pytest.mark.timeout(HANG_TIMEOUT)
@pytest.mark.parametrize(
    ("route", "message"),
    [("/silent", "no answer within 0.5 s"), ("/trickle", "not downloaded within 0.5 s")],
)
def test_slow_urls_time_out(http_server, short_url_limits, route, message):
    """A silent server and one trickling bytes are both cut off near the time limit."""
    url = f"{http_server}{route}"
    start = time.perf_counter()

    with pytest.raises(SourceError, match=rf"^{re.escape(url)}: {message}$"):
        load_image(url)
    assert time.perf_counter() - start < 2 * TEST_URL_TIMEOUT + TIMEOUT_SLACK


@pytest.mark.timeout(HANG_TIMEOUT)
def test_fetch_url_takes_explicit_limits(http_server):
    """fetch_url's own timeout and max_bytes override the module defaults."""
    with pytest.raises(SourceError, match=r"over the 10-byte limit"):
        fetch_url(f"{http_server}/photo.png", max_bytes=10)


# -- quiet_decoders -----------------------------------------------------------------------


def test_quiet_decoders_silences_then_restores(capfd):
    """Inside the block warnings, PIL log records and fd-2 writes vanish; after it they show."""
    pil_logger = logging.getLogger("PIL.TiffImagePlugin")

    with quiet_decoders():
        warnings.warn("hidden warning", UserWarning, stacklevel=1)
        logging_inside = pil_logger.isEnabledFor(logging.CRITICAL)
        os.write(2, b"hidden fd write\n")
    inside = capfd.readouterr()
    os.write(2, b"shown fd write\n")
    with pytest.warns(UserWarning, match="shown warning"):
        warnings.warn("shown warning", UserWarning, stacklevel=1)

    assert "hidden" not in inside.err + inside.out
    assert capfd.readouterr().err == "shown fd write\n"
    assert not logging_inside and pil_logger.isEnabledFor(logging.ERROR)


# -- JPEG structure: scan count and data size ---------------------------------------------


def repeated_scan_jpeg(side: int, repeats: int) -> bytes:
    """A flat progressive JPEG whose last (tiny) scan is repeated: the decode-time attack."""
    data = encode(Image.new("RGB", (side, side), (200, 30, 60)), "JPEG", progressive=True, quality=80)
    last = data.rindex(b"\xff\xda")
    return data[:-2] + data[last:-2] * repeats + b"\xff\xd9"


@pytest.mark.timeout(HANG_TIMEOUT)
def test_jpeg_with_too_many_scans_is_refused_before_decoding():
    """1,000 copies of one scan (each a full pass over the image): refused at once, naming the count."""
    data = repeated_scan_jpeg(1000, 1000)
    assert len(data) < 100_000
    start = time.perf_counter()

    with pytest.raises(
        UnreadableImageError, match=rf"^<bytes>: 1,010 scans is over the limit of {MAX_SCANS} for a JPEG"
    ):
        load_image(data)
    assert time.perf_counter() - start < FAST_FAIL_SECONDS / 4
    # the refusal is the limit's: raised, the file decodes (slowly)
    assert pixels(data, max_scans=2000).shape[2] == 3


def test_scan_limit_counts_every_scan():
    """Pillow's progressive files (10 scans) pass; max_scans=9 refuses them; SOS bytes in a comment do not count."""
    plain = encode(Image.new("RGB", (32, 32), RED), "JPEG", progressive=True)
    comment = b"\xff\xda" * 200  # a COM segment before the first scan, full of SOS-looking bytes
    data = plain[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + plain[2:]
    assert data.count(b"\xff\xda") == 210

    assert pixels(data).shape == (32, 32, 3)
    assert pixels(data, max_scans=10).shape == (32, 32, 3)
    with pytest.raises(UnreadableImageError, match=r"10 scans is over the limit of 9"):
        load_image(data, max_scans=9)


@pytest.mark.timeout(HANG_TIMEOUT)
def test_jpeg_declaring_more_pixels_than_its_data_is_truncated_not_grey():
    """A 16x16 JPEG whose header says 9000x9000 is an error at once, not 81 MP of grey fill."""
    data = bytearray(encode(Image.new("RGB", (16, 16), RED), "JPEG", quality=90))
    declare_size("jpg", data, 9000, 9000)
    start = time.perf_counter()

    with pytest.raises(
        UnreadableImageError,
        match=r"^<bytes>: the file is truncated or damaged \(\d+ bytes of image data cannot hold 9000x9000 pixels\)$",
    ):
        load_image(bytes(data))
    assert time.perf_counter() - start < FAST_FAIL_SECONDS


@pytest.mark.parametrize("progressive", [False, True])
@pytest.mark.parametrize("mode", ["RGB", "L", "CMYK"])
@pytest.mark.parametrize("subsampling", [0, 2])
def test_flat_jpegs_are_not_taken_for_truncated(mode, progressive, subsampling):
    """The sparest real files (flat colour, optimised Huffman tables, quality 1) pass the data check."""
    colour = {"RGB": (255, 255, 255), "L": 0, "CMYK": (0, 0, 0, 0)}[mode]
    data = encode(
        Image.new(mode, (1200, 900), colour), "JPEG",
        progressive=progressive, optimize=True, subsampling=subsampling, quality=1,
    )

    with Image.open(io.BytesIO(data)) as im:
        check_jpeg(im, "flat")  # raises if the file looked too small for its size
    assert pixels(data).shape[2] == 3


def test_jpeg_checks_leave_the_file_where_pillow_expects_it(tmp_path):
    """After the checks Pillow decodes the same file (path and file object) normally."""
    image = Image.new("RGB", (40, 24), GREEN)
    path = tmp_path / "g.jpg"
    image.save(path, "JPEG", quality=95, progressive=True)

    with open(path, "rb") as fp:
        from_file = pixels(fp)
    assert np.abs(pixels(path).astype(int) - GREEN).max() <= JPEG_TOLERANCE
    assert np.array_equal(from_file, pixels(path))

