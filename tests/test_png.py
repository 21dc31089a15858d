"""chromapal.png: the PNG fast path decodes exactly what Pillow decodes, or hands the file to Pillow.

Every hostile file here is generated in the test: a double-IHDR bomb, IDAT split by
another chunk, trailing data (2 GB, sparse), overlong and out-of-file chunk lengths,
bad CRCs, a missing IEND, critical chunks after the data, over-long zlib streams.
"""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import textwrap
import time
import zlib

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from chromapal import ImageTooLargeError, UnreadableImageError
from chromapal import png as png_module
from chromapal.load import load_image
from chromapal.png import decode_png, idat_limit

pytestmark = pytest.mark.skipif(
    png_module.deflate is None or png_module.KERNELS is None, reason="fast PNG path unavailable"
)

#: Peak RSS (MB) a child process may reach while refusing or decoding a small hostile PNG;
#: the interpreter with numpy and Pillow is ~60 MB, a decoded 12000x12000 RGB image 432 MB.
SMALL_RSS_MB = 200
#: Seconds for a hostile file that must not be decoded at its declared size.
FAST_SECONDS = 5.0


def chunk(kind: bytes, body: bytes, *, crc: int | None = None) -> bytes:
    """One PNG chunk: length, type, body and CRC (a wrong `crc` if given)."""
    value = zlib.crc32(kind + body) if crc is None else crc
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", value)


def ihdr(width: int, height: int, colour_type: int = 2, depth: int = 8, interlace: int = 0) -> bytes:
    return chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour_type, 0, 0, interlace))


def filtered(rows: np.ndarray, filters: list[int]) -> bytes:
    """The filtered scanlines of (H, W, C) uint8 `rows` with the given PNG filter type per row."""
    h, w, ch = rows.shape
    flat = rows.reshape(h, w * ch).astype(np.int32)
    out = bytearray()
    for y, kind in enumerate(filters):
        cur = flat[y]
        up = flat[y - 1] if y else np.zeros_like(cur)
        left = np.concatenate([np.zeros(ch, np.int32), cur[:-ch]])
        upleft = np.concatenate([np.zeros(ch, np.int32), up[:-ch]])
        if kind == 0:
            pred = np.zeros_like(cur)
        elif kind == 1:
            pred = left
        elif kind == 2:
            pred = up
        elif kind == 3:
            pred = (left + up) // 2
        else:
            p = left + up - upleft
            pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
            pred = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        out.append(kind)
        out += ((cur - pred) % 256).astype(np.uint8).tobytes()
    return bytes(out)


def png_parts(rows: np.ndarray, filters: list[int] | None = None, split: int = 3) -> tuple[bytes, list[bytes], bytes]:
    """(signature + IHDR, the IDAT chunks, IEND) of `rows` as a PNG, data over `split` IDATs."""
    h, w, ch = rows.shape
    data = zlib.compress(filtered(rows, filters if filters is not None else [y % 5 for y in range(h)]))
    step = max(1, -(-len(data) // split))
    idats = [chunk(b"IDAT", data[i : i + step]) for i in range(0, len(data), step)]
    head = b"\x89PNG\r\n\x1a\n" + ihdr(w, h, 2 if ch == 3 else 6)
    return head, idats, chunk(b"IEND", b"")


def png_bytes(rows: np.ndarray, filters: list[int] | None = None, split: int = 3) -> bytes:
    head, idats, end = png_parts(rows, filters, split)
    return head + b"".join(idats) + end


def pillow(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im)


@pytest.fixture
def rows() -> np.ndarray:
    rng = np.random.default_rng(7)
    smooth = np.cumsum(rng.integers(-3, 4, (20, 17, 3)), axis=1) + rng.integers(0, 256, (20, 1, 3))
    return (smooth % 256).astype(np.uint8)


# -- same pixels as Pillow ----------------------------------------------------------------


@pytest.mark.parametrize("channels", [3, 4])
def test_fast_png_path_equals_pillow_for_every_filter_type(channels: int) -> None:
    """Rows filtered with None, Sub, Up, Average and Paeth (and mixed) decode exactly as Pillow decodes them."""
    rng = np.random.default_rng(channels)
    h, w = 40, 33
    smooth = np.cumsum(rng.integers(-3, 4, (h, w, channels)), axis=1) + rng.integers(0, 256, (h, 1, channels))
    rows = (smooth % 256).astype(np.uint8)
    rows[::7] = rng.integers(0, 256, (len(rows[::7]), w, channels))  # some noisy rows
    data = png_bytes(rows)

    fast = decode_png(data)

    assert fast is not None
    np.testing.assert_array_equal(fast, rows)
    np.testing.assert_array_equal(pillow(data), rows)
    np.testing.assert_array_equal(load_image(data).pixels, rows)


def test_load_image_uses_the_fast_path_for_every_source(tmp_path, rows, monkeypatch) -> None:
    """Paths, bytes and file objects go through the fast path (it is called and not refused)."""
    data = png_bytes(rows)
    path = tmp_path / "a.png"
    path.write_bytes(data)
    results = []
    real = png_module.decode_png_file

    def spy(fp, expect=None):
        results.append(real(fp, expect))
        return results[-1]

    monkeypatch.setattr(png_module, "decode_png_file", spy)
    for source in (path, str(path), data, io.BytesIO(data)):
        np.testing.assert_array_equal(load_image(source).pixels, rows)

    assert len(results) == 4 and all(r is not None for r in results)


def test_other_pngs_go_to_pillow(rows) -> None:
    """Other bit depths and colour types, interlacing, bad filter bytes and cut data: None."""
    good = png_bytes(rows)
    assert decode_png(good) is not None
    head, idats, end = png_parts(rows)
    body = b"".join(idats) + end

    def with_header(**fields: int) -> bytes:
        return b"\x89PNG\r\n\x1a\n" + ihdr(17, 20, **fields) + body

    assert decode_png(with_header(depth=16)) is None
    assert decode_png(with_header(colour_type=3)) is None
    assert decode_png(with_header(interlace=1)) is None
    assert decode_png(png_bytes(rows, [5] * 20)) is None  # no such filter type
    assert decode_png(good[:-40]) is None  # data cut short
    assert decode_png(b"not a png at all, but long enough to look") is None


# -- files Pillow reads differently go to Pillow ------------------------------------------


def test_double_ihdr_is_refused(rows) -> None:
    """A second IHDR anywhere (Pillow reads the last one) sends the file to Pillow."""
    head, idats, end = png_parts(rows)
    other = ihdr(1, 1)
    for data in (
        head + other + b"".join(idats) + end,
        head + b"".join(idats) + other + end,
    ):
        assert decode_png(data) is None


def test_ihdr_must_be_the_first_chunk(rows) -> None:
    """A chunk before IHDR sends the file to Pillow."""
    head, idats, end = png_parts(rows)
    data = head[:8] + chunk(b"tEXt", b"a\0b") + head[8:] + b"".join(idats) + end

    assert decode_png(data) is None


def test_split_idat_is_refused_and_pillow_calls_it_truncated(rows) -> None:
    """IDAT chunks split by another chunk: None here; Pillow stops at the split (truncated)."""
    head, idats, end = png_parts(rows)
    assert len(idats) == 3
    data = head + idats[0] + chunk(b"tEXt", b"a\0b") + b"".join(idats[1:]) + end

    assert decode_png(data) is None
    with pytest.raises(UnreadableImageError, match=r"^<bytes>: the file is truncated"):
        load_image(data)


@pytest.mark.parametrize(
    "damage",
    [
        "length over 2**31-1",
        "chunk past the end",
        "bad chunk type",
        "no IEND",
        "IEND with data",
        "bad IHDR CRC",
        "bad ancillary CRC before IDAT",
        "critical chunk after IDAT",
        "tRNS after IDAT",
        "no IDAT",
    ],
)
def test_chunk_anomalies_are_refused(rows, damage) -> None:
    """Every length, type, order and CRC anomaly returns None (Pillow decodes or reports it)."""
    head, idats, end = png_parts(rows)
    data = b"".join(idats)
    text = chunk(b"tEXt", b"a\0b")
    made = {
        "length over 2**31-1": head + data + struct.pack(">I", 2**31) + b"tEXt" + b"\0" * 8 + end,
        "chunk past the end": head + data + struct.pack(">I", 10_000) + b"tEXt" + b"\0" * 8,
        "bad chunk type": head + data + chunk(b"t3Xt", b"") + end,
        "no IEND": head + data,
        "IEND with data": head + data + chunk(b"IEND", b"x"),
        "bad IHDR CRC": head[:-4] + b"\0\0\0\0" + data + end,
        "bad ancillary CRC before IDAT": head + chunk(b"tEXt", b"a\0b", crc=1) + data + end,
        "critical chunk after IDAT": head + data + chunk(b"PLTE", b"\0" * 3) + end,
        "tRNS after IDAT": head + data + chunk(b"tRNS", b"\0" * 6) + end,
        "no IDAT": head + text + end,
    }[damage]

    assert decode_png(made) is None


def test_ancillary_chunks_around_the_data_are_fine(rows) -> None:
    """tEXt before and after the IDATs, as encoders write them: decoded, equal to Pillow."""
    head, idats, end = png_parts(rows)
    text = chunk(b"tEXt", b"a\0b")
    data = head + text + b"".join(idats) + text + end

    np.testing.assert_array_equal(decode_png(data), rows)
    np.testing.assert_array_equal(pillow(data), rows)


def test_overlong_zlib_stream_goes_to_pillow(rows) -> None:
    """More compressed data than idat_limit allows (here padded with empty stored blocks): None.

    Pillow inflates it as it reads, to the same pixels.
    """
    raw = filtered(rows, [0] * len(rows))
    pad = b"\x00\x00\x00\xff\xff" * (idat_limit(len(raw)) // 5 + 1)  # empty non-final stored blocks
    body = zlib.compressobj(wbits=-15)
    stream = b"\x78\x01" + pad + body.compress(raw) + body.flush() + struct.pack(">I", zlib.adler32(raw))
    head = b"\x89PNG\r\n\x1a\n" + ihdr(17, 20)
    data = head + chunk(b"IDAT", stream) + chunk(b"IEND", b"")

    assert decode_png(data) is None
    np.testing.assert_array_equal(load_image(data).pixels, rows)


# -- hostile files: bounded time and memory -----------------------------------------------


def double_ihdr_bomb(side: int) -> bytes:
    """A PNG whose first IHDR says side x side RGB, a second says 1x1, with side x side of flat data."""
    row = b"\0" + bytes(3 * side)
    compressor = zlib.compressobj(9)
    stream = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + ihdr(side, side) + ihdr(1, 1)
        + chunk(b"IDAT", stream) + chunk(b"IEND", b"")
    )


_RSS_CHILD = textwrap.dedent(
    """
    import sys, time
    from chromapal import load_image, PaletteError
    start = time.perf_counter()
    try:
        out = load_image(sys.argv[1], max_pixels=int(sys.argv[2])).pixels.shape
    except PaletteError as exc:
        out = type(exc).__name__ + ": " + str(exc)
    seconds = time.perf_counter() - start
    peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0].split()[1]
    print(out, "|", round(seconds, 3), "|", int(peak) // 1024)
    """
)


def run_child(path, max_pixels: int) -> tuple[str, float, int]:
    """load_image(path, max_pixels) in a fresh interpreter: (result, seconds, peak RSS in MB)."""
    done = subprocess.run(
        [sys.executable, "-c", _RSS_CHILD, str(path), str(max_pixels)],
        capture_output=True, text=True, timeout=120, check=True,
    )
    result, seconds, peak = done.stdout.strip().rsplit(" | ", 2)
    return result, float(seconds), int(peak)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc for VmHWM")
def test_double_ihdr_bomb_decodes_as_pillow_reads_it_in_small_memory(tmp_path) -> None:
    """12000x12000 then 1x1: never decodes 144 MP; max_pixels=1000 holds; peak RSS stays small."""
    path = tmp_path / "bomb.png"
    path.write_bytes(double_ihdr_bomb(12_000))
    assert path.stat().st_size < 1_000_000
    with Image.open(path) as im:
        assert im.size == (1, 1)  # what Pillow (and so the pixel limit) sees

    result, seconds, peak_mb = run_child(path, 1000)

    assert result == "(1, 1, 3)"  # decoded as Pillow reads it
    assert seconds < FAST_SECONDS
    assert peak_mb < SMALL_RSS_MB, peak_mb


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc for VmHWM")
def test_two_gigabytes_of_trailing_data_are_never_read(tmp_path, rows) -> None:
    """A 4x4 PNG followed by 2 GB of (sparse) trailing data: decoded, quickly, in small memory."""
    small = rows[:4, :4]
    path = tmp_path / "tail.png"
    path.write_bytes(png_bytes(small))
    with open(path, "r+b") as fp:
        fp.truncate(2 * 1024**3 + path.stat().st_size)  # a hole: no disk space used

    fast = png_module.decode_png_file(open(path, "rb"))  # noqa: SIM115 - closed by the GC
    result, seconds, peak_mb = run_child(path, 10**6)

    np.testing.assert_array_equal(fast, small)
    assert result == "(4, 4, 3)"
    assert seconds < FAST_SECONDS
    assert peak_mb < SMALL_RSS_MB, peak_mb


def test_bomb_under_a_small_limit_is_refused_by_its_real_size(rows) -> None:
    """A PNG whose one IHDR is over max_pixels is refused before any decoding."""
    data = png_bytes(rows)
    start = time.perf_counter()

    with pytest.raises(ImageTooLargeError, match=r"^<bytes>: 17x20 = 340 pixels is over the limit of 339"):
        load_image(data, max_pixels=339)
    assert time.perf_counter() - start < FAST_SECONDS


def test_fast_path_checks_pillows_size(rows, monkeypatch) -> None:
    """If Pillow's size differs from the IHDR the fast path reads, the fast path declines."""
    data = png_bytes(rows)
    with Image.open(io.BytesIO(data)) as im:
        assert png_module.decode_png_file(im.fp, expect=((17, 20), "RGB")) is not None
        assert png_module.decode_png_file(im.fp, expect=((1, 1), "RGB")) is None
        assert png_module.decode_png_file(im.fp, expect=((17, 20), "RGBA")) is None


def test_file_position_is_restored_for_pillow(rows, monkeypatch) -> None:
    """When the fast path declines after reading, Pillow still decodes the file from its own position."""
    data = png_bytes(rows)
    monkeypatch.setattr(png_module, "decode_png_file", lambda fp, expect=None: fp.read() and None)

    np.testing.assert_array_equal(load_image(data).pixels, rows)


# -- metadata chunks: bounded before Pillow reads them ------------------------------------


def sparse_png_with_chunk(path, kind: bytes, size: int, *, after_data: bool, colour_type: int = 2) -> None:
    """A 4x4 PNG with one `size`-byte chunk of zeros (a hole in the file) before or after IDAT."""
    rows = np.zeros((4, 4, 3), np.uint8)
    head, idats, end = png_parts(rows)
    if colour_type == 3:  # a palette PNG: Pillow, not the fast path, decodes it
        head = b"\x89PNG\r\n\x1a\n" + ihdr(4, 4, 3) + chunk(b"PLTE", bytes(3))
        idats = [chunk(b"IDAT", zlib.compress(bytes(4 * 5)))]
    with open(path, "wb") as fp:
        fp.write(head + (b"".join(idats) if after_data else b""))
        fp.write(struct.pack(">I", size) + kind)
        fp.seek(size, 1)
        fp.write(b"\0\0\0\0" + (b"" if after_data else b"".join(idats)) + end)


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="needs /proc for VmHWM")
@pytest.mark.parametrize(("after_data", "colour_type"), [(False, 2), (True, 3)])
def test_huge_metadata_chunk_is_refused_before_pillow_reads_it(tmp_path, after_data, colour_type) -> None:
    """A 1 GB private chunk (sparse) before IDAT, or after it in a palette PNG: refused in small memory.

    Pillow reads such chunks whole (2.1 GB peak and 8 s for the one before IDAT, measured).
    """
    path = tmp_path / "meta.png"
    sparse_png_with_chunk(path, b"prVt", 1024**3, after_data=after_data, colour_type=colour_type)

    result, seconds, peak_mb = run_child(path, 10**6)

    assert result == (
        f"UnreadableImageError: {path}: over {png_module.MAX_PNG_METADATA:,} bytes of PNG chunks "
        "that are not image data (metadata; a guard on memory)"
    )
    assert seconds < FAST_SECONDS
    assert peak_mb < SMALL_RSS_MB, peak_mb


def test_metadata_limit_counts_bytes_and_spares_image_data(rows, monkeypatch) -> None:
    """The limit counts every non-IDAT chunk's bytes (not IDAT's), for bytes and file objects alike."""
    head, idats, end = png_parts(rows)
    text = chunk(b"tEXt", b"k\0" + b"v" * 98)  # 100 bytes of metadata
    data = head[:8] + head[8:] + text + b"".join(idats) + text + end
    idat_bytes = sum(len(c) - 12 for c in idats)
    metadata = 13 + 100 + 100  # IHDR and the two tEXt chunks
    monkeypatch.setattr(png_module.check_png_metadata, "__defaults__", (metadata,))
    assert idat_bytes > metadata  # IDAT alone would be over the limit

    np.testing.assert_array_equal(load_image(data).pixels, rows)
    monkeypatch.setattr(png_module.check_png_metadata, "__defaults__", (metadata - 1,))
    for source in (data, io.BytesIO(data)):
        with pytest.raises(UnreadableImageError, match=r"over 212 bytes of PNG chunks"):
            load_image(source)


def test_metadata_check_leaves_damaged_files_to_pillow(rows) -> None:
    """A chunk whose length runs past the end counts only its bytes present: Pillow's message stands."""
    head, idats, end = png_parts(rows)
    data = head + struct.pack(">I", 2**31 - 1) + b"tEXt" + b"k\0v"

    with pytest.raises(UnreadableImageError, match=r"^<bytes>: (?!over)"):
        load_image(data)


# -- property: whenever the fast path decodes, Pillow decodes the same ---------------------


@given(data=st.data())
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_fast_path_never_disagrees_with_pillow(rows, data) -> None:
    """Chunks shuffled, repeated, dropped or bit-flipped: a decoded result always equals Pillow's.

    The fast path may decline anything (None); what it must never do is return pixels, or a
    size, that Pillow would not.
    """
    head, idats, end = png_parts(rows, split=4)
    pieces = {
        "ihdr": head[8:],
        "ihdr-small": ihdr(1, 1),
        "ihdr-rgba": ihdr(17, 20, 6),
        "text": chunk(b"tEXt", b"k\0v"),
        "plte": chunk(b"PLTE", bytes(3)),
        "trns": chunk(b"tRNS", bytes(6)),
        "iend": end,
        **{f"idat{i}": c for i, c in enumerate(idats)},
    }
    order = ["ihdr", *[f"idat{i}" for i in range(len(idats))], "iend"]
    for _ in range(data.draw(st.integers(0, 3))):
        action = data.draw(st.sampled_from(["insert", "delete", "swap"]))
        at = data.draw(st.integers(0, len(order) - 1))
        if action == "insert":
            order.insert(at, data.draw(st.sampled_from(sorted(pieces))))
        elif action == "delete" and len(order) > 1:
            del order[at]
        else:
            other = data.draw(st.integers(0, len(order) - 1))
            order[at], order[other] = order[other], order[at]
    blob = bytearray(b"\x89PNG\r\n\x1a\n" + b"".join(pieces[p] for p in order))
    for _ in range(data.draw(st.integers(0, 2))):
        at = data.draw(st.integers(0, len(blob) - 1))
        blob[at] ^= 1 << data.draw(st.integers(0, 7))
    blob = bytes(blob)

    fast = decode_png(blob)

    if fast is not None:
        with Image.open(io.BytesIO(blob)) as im:
            assert (im.width, im.height) == (fast.shape[1], fast.shape[0])
            np.testing.assert_array_equal(np.asarray(im), fast)
