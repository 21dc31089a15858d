"""Seeded image mutator: valid images of every format Pillow writes, then damaged, for fuzzing chromapal.

Nothing here is a committed binary: `generate` encodes a small random picture in code
(format and content drawn from the seed) and `mutate` damages it with the seed's
mutations — bit flips, byte insertions and deletions, duplicated spans or chunks,
tampered length and size fields, truncation, and format-aware damage that keeps
checksums valid so the damage reaches the decoders (PNG chunks with recomputed CRCs,
re-compressed PNG scanlines with hostile filter bytes, repeated JPEG scans). The
same (format, seed) always gives the same bytes.

`check` runs one file through ``chromapal.extract`` and ``load_image(frames="all")``
and fails unless each gives a palette (an array) or raises a ``PaletteError``
subclass with a one-line message. `run` loops over formats and seeds within a count
or time budget. From the command line (``make fuzz`` runs it under ASan and UBSan)::

    python tests/fuzzing.py --count 300 [--seconds 60] [--seed 0] [--formats png-rgb,gif-animated]
    python tests/fuzzing.py --write out.bin --formats tiff --seed 1234   # one sample, to reproduce
"""

from __future__ import annotations

import argparse
import io
import random
import struct
import sys
import tempfile
import time
import warnings
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Pixel limit of the fuzz runs: a tampered header may declare a huge size; this keeps each decode small.
FUZZ_MAX_PIXELS = 1 << 20
#: Values written over length and size fields.
INTERESTING = [0, 1, 2, 7, 8, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


# -- valid images ----------------------------------------------------------------------------------


def picture(rng: np.random.Generator, mode: str = "RGB", max_side: int = 40) -> Image.Image:
    """A small random picture: noise, flat bands or a gradient (flat art and photos take different paths)."""
    w, h = int(rng.integers(1, max_side + 1)), int(rng.integers(1, max_side + 1))
    channels = len(mode) if mode in ("RGB", "RGBA") else 1
    kind = rng.integers(3)
    if kind == 0:
        arr = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    elif kind == 1:
        colours = rng.integers(0, 256, (int(rng.integers(1, 6)), channels), dtype=np.uint8)
        arr = colours[np.arange(h) * len(colours) // h][:, None, :].repeat(w, axis=1)
    else:
        ramp = np.linspace(0, 255, w, dtype=np.uint8)[None, :, None]
        arr = np.broadcast_to(ramp, (h, w, channels)).copy() ^ rng.integers(0, 256, channels, dtype=np.uint8)
    return Image.fromarray(arr[:, :, 0] if channels == 1 else arr, mode if channels > 1 else "L")


def _save(im: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **options)
    return buf.getvalue()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk with its length and CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


#: Adam7 passes: (first column, first row, column step, row step).
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def interlaced_png(arr: np.ndarray, rng: np.random.Generator) -> bytes:
    """An Adam7-interlaced 8-bit RGB(A) PNG (Pillow cannot write one); rows use filters None, Sub and Up."""
    h, w, channels = arr.shape
    raw = bytearray()
    for x0, y0, dx, dy in ADAM7:
        sub = arr[y0::dy, x0::dx].reshape(-1, len(arr[0, x0::dx]) * channels) if x0 < w and y0 < h else None
        if sub is None or sub.size == 0:
            continue
        previous = np.zeros(sub.shape[1], np.uint8)
        for row in sub:
            kind = int(rng.integers(3))
            if kind == 1:
                out = row.copy()
                out[channels:] = row[channels:] - row[:-channels]
            else:
                out = row - previous if kind == 2 else row
            raw += bytes([kind]) + out.astype(np.uint8).tobytes()
            previous = row
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2 if channels == 3 else 6, 0, 0, 1)
    return PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(bytes(raw))) + png_chunk(b"IEND", b"")


def _gif(rng: np.random.Generator) -> bytes:
    frames = [picture(rng, max_side=24).convert("P", palette=Image.Palette.ADAPTIVE, colors=int(rng.integers(2, 64)))]
    frames += [f.resize(frames[0].size) for f in (picture(rng, max_side=24).convert("P") for _ in range(rng.integers(1, 5)))]
    return _save(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=int(rng.integers(0, 200)),
                 loop=int(rng.integers(0, 3)), disposal=int(rng.integers(0, 4)))


def _tiff(rng: np.random.Generator) -> bytes:
    compression = [None, "tiff_lzw", "tiff_deflate", "tiff_adobe_deflate", "packbits", "jpeg"][rng.integers(6)]
    im = picture(rng, ["RGB", "RGBA", "L"][rng.integers(3)])
    if compression == "jpeg" and im.mode == "RGBA":
        im = im.convert("RGB")
    extra = [picture(rng, im.mode)] if rng.integers(3) == 0 else []
    return _save(im, "TIFF", compression=compression, save_all=bool(extra), append_images=extra)


def _webp(rng: np.random.Generator) -> bytes:
    im = picture(rng, ["RGB", "RGBA"][rng.integers(2)])
    if rng.integers(3) == 0:  # animated
        more = [picture(rng, im.mode).resize(im.size) for _ in range(rng.integers(1, 3))]
        return _save(im, "WEBP", save_all=True, append_images=more, lossless=bool(rng.integers(2)))
    return _save(im, "WEBP", lossless=bool(rng.integers(2)), quality=int(rng.integers(1, 101)))


#: Every format and variant generated: name -> builder from a NumPy generator.
FORMATS: dict[str, Callable[[np.random.Generator], bytes]] = {
    "png-rgb": lambda r: _save(picture(r, "RGB"), "PNG", compress_level=int(r.integers(0, 10))),
    "png-rgba": lambda r: _save(picture(r, "RGBA"), "PNG"),
    "png-palette": lambda r: _save(picture(r).convert("P", palette=Image.Palette.ADAPTIVE, colors=int(r.integers(2, 257))), "PNG",
                                   transparency=int(r.integers(0, 2))),
    "png-16bit": lambda r: _save(Image.fromarray(r.integers(0, 65536, (int(r.integers(1, 30)), int(r.integers(1, 30))), dtype=np.uint16)), "PNG"),
    "png-interlaced": lambda r: interlaced_png(np.asarray(picture(r, ["RGB", "RGBA"][r.integers(2)])), r),
    "jpeg-baseline": lambda r: _save(picture(r, ["RGB", "L"][r.integers(2)]), "JPEG", quality=int(r.integers(1, 101)),
                                     subsampling=int(r.integers(0, 3))),
    "jpeg-progressive": lambda r: _save(picture(r), "JPEG", progressive=True, quality=int(r.integers(1, 101)),
                                        optimize=bool(r.integers(2))),
    "gif-animated": _gif,
    "bmp": lambda r: _save(picture(r, ["RGB", "L"][r.integers(2)]), "BMP"),
    "tiff": _tiff,
    "webp": _webp,
    "ico": lambda r: _save(picture(r, "RGBA", max_side=40).resize((32, 32)), "ICO", sizes=[(16, 16), (32, 32)][: int(r.integers(1, 3))]),
    "ppm": lambda r: _save(picture(r, ["RGB", "L"][r.integers(2)]), "PPM"),
    "tga": lambda r: _save(picture(r, ["RGB", "RGBA"][r.integers(2)]), "TGA", compression=["tga_rle", None][r.integers(2)]),
}


def generate(fmt: str, seed: int) -> bytes:
    """The valid `fmt` image of `seed`."""
    return FORMATS[fmt](np.random.default_rng([seed, zlib.crc32(fmt.encode())]))


# -- mutations ---------------------------------------------------------------------------------------


def png_chunks(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each well-formed PNG chunk after the signature, up to the first that is not."""
    spans, pos = [], len(PNG_SIGNATURE)
    while pos + 12 <= len(data):
        end = pos + 12 + int.from_bytes(data[pos:pos + 4], "big")
        if end > len(data):
            break
        spans.append((pos, end))
        pos = end
    return spans


def _field_offset(data: bytes, rnd: random.Random) -> int:
    """A likely header field: mostly in the first 64 bytes or just after a JPEG marker or PNG chunk start."""
    markers = [i + 2 for i in range(len(data) - 3) if data[i] == 0xFF and 0xC0 <= data[i + 1] <= 0xFE]
    choice = rnd.random()
    if markers and choice < 0.3:
        return rnd.choice(markers) + rnd.choice([0, 0, 3, 5, 7])  # segment length, or SOF height/width
    return rnd.randrange(min(len(data), 64)) if choice < 0.8 else rnd.randrange(len(data))


def tamper_field(data: bytearray, rnd: random.Random) -> str:
    """Overwrite a 1-, 2- or 4-byte field with an interesting value (either byte order)."""
    size = rnd.choice([1, 2, 4])
    pos = _field_offset(data, rnd)
    value = rnd.choice(INTERESTING + [int.from_bytes(data[pos:pos + size], "big") + rnd.choice([-1, 1])])
    raw = (value % (1 << 8 * size)).to_bytes(size, rnd.choice(["big", "little"]))
    data[pos:pos + size] = raw[: max(0, len(data) - pos)]
    return f"field@{pos}={value}/{size}"


def _generic(data: bytearray, rnd: random.Random) -> str:
    n = len(data)
    kind = rnd.choice(["flip", "flip", "insert", "delete", "duplicate", "field", "field", "truncate"])
    if kind == "flip":
        for _ in range(rnd.randint(1, 8)):
            data[rnd.randrange(n)] ^= 1 << rnd.randrange(8)
        return "flip"
    if kind == "insert":
        pos = rnd.randrange(n + 1)
        data[pos:pos] = bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 16)))
        return f"insert@{pos}"
    if kind == "delete":
        pos = rnd.randrange(n)
        del data[pos:pos + rnd.randint(1, 16)]
        return f"delete@{pos}"
    if kind == "duplicate":
        a = rnd.randrange(n)
        b = min(n, a + rnd.randint(1, 256))
        data[b:b] = data[a:b] * rnd.randint(1, 4)
        return f"duplicate@{a}:{b}"
    if kind == "field":
        return tamper_field(data, rnd)
    cut = rnd.choice([rnd.randrange(n), max(0, n - rnd.randint(1, 16))])
    del data[cut:]
    return f"truncate@{cut}"


def _png(data: bytearray, rnd: random.Random) -> str:
    """Chunk-aware PNG damage; CRCs recomputed unless the damage is to the length or CRC itself."""
    spans = png_chunks(bytes(data))
    if not spans:
        return _generic(data, rnd)
    kind = rnd.choice(["dup", "length", "swap", "ihdr", "raw", "split", "crc"])
    a, b = spans[rnd.randrange(len(spans))]
    if kind == "dup":  # e.g. a second IHDR, a repeated IDAT or IEND
        at = rnd.choice(spans)[rnd.randrange(2)]
        data[at:at] = data[a:b]
        return f"png-dup@{a}"
    if kind == "length":
        value = rnd.choice(INTERESTING + [b - a - 12 + rnd.choice([-1, 1])])
        data[a:a + 4] = (value % (1 << 32)).to_bytes(4, "big")
        return f"png-length@{a}={value}"
    if kind == "swap" and len(spans) > 1:
        (a, b), (c, d) = sorted(rnd.sample(spans, 2))
        data[a:d] = data[c:d] + data[b:c] + data[a:b]
        return f"png-swap@{a},{c}"
    if kind == "ihdr":  # a valid-CRC IHDR with one field changed: size, depth, colour type, interlace
        body = bytearray(data[16:29])
        field = rnd.choice([(0, 4), (4, 4), (8, 1), (9, 1), (10, 1), (11, 1), (12, 1)])
        body[field[0]:sum(field)] = rnd.choice(INTERESTING + [rnd.getrandbits(32)]).to_bytes(8, "big")[-field[1]:]
        data[8:33] = png_chunk(b"IHDR", bytes(body))
        return f"png-ihdr{field}"
    idats = [(s, e) for s, e in spans if data[s + 4:s + 8] == b"IDAT"]
    if kind in ("raw", "split") and idats:
        s, e = idats[0][0], idats[-1][1]
        try:
            raw = bytearray(zlib.decompress(b"".join(bytes(data[x + 8:y - 4]) for x, y in idats)))
        except zlib.error:
            return _generic(data, rnd)
        if kind == "raw" and raw:  # hostile filter bytes and pixels, still valid zlib: reaches the unfilter kernel
            for _ in range(rnd.randint(1, 6)):
                raw[rnd.randrange(len(raw))] = rnd.choice([5, 255, 4, 3, rnd.getrandbits(8)])
            if rnd.random() < 0.3:
                del raw[rnd.randrange(len(raw)):]
        z = zlib.compress(bytes(raw))
        cut = rnd.randrange(len(z) + 1)
        between = png_chunk(b"tEXt", b"k\x00v") if kind == "split" else b""
        data[s:e] = png_chunk(b"IDAT", z[:cut]) + between + png_chunk(b"IDAT", z[cut:])
        return f"png-{kind}"
    pos = b - 4 - rnd.randrange(4)
    data[pos] ^= 1 << rnd.randrange(8)
    return f"png-crc@{pos}"


def _jpeg(data: bytearray, rnd: random.Random) -> str:
    """Repeat the last scan (each scan costs a pass over the image), else generic damage."""
    sos = data.rfind(b"\xff\xda")
    end = data.rfind(b"\xff\xd9")
    if rnd.random() < 0.25 and 0 < sos < end:
        data[end:end] = data[sos:end] * rnd.randint(1, 20)
        return "jpeg-scan-repeat"
    return _generic(data, rnd)


def mutate(data: bytes, fmt: str, seed: int) -> tuple[bytes, str]:
    """`data` damaged by one to three of the seed's mutations, and their description."""
    rnd = random.Random(f"{fmt}:{seed}")
    out, done = bytearray(data), []
    for _ in range(rnd.choice([1, 1, 1, 2, 3])):
        if not out:
            break
        special = _png if fmt.startswith("png") else _jpeg if fmt.startswith("jpeg") else _generic
        done.append((special if rnd.random() < 0.5 else _generic)(out, rnd))
    return bytes(out), " ".join(done)


def sample(fmt: str, seed: int) -> tuple[bytes, str]:
    """The fuzz input of (fmt, seed): one in 20 is the valid image, the rest are mutated."""
    data = generate(fmt, seed)
    return (data, "valid") if seed % 20 == 0 else mutate(data, fmt, seed)


# -- running ---------------------------------------------------------------------------------------


class FuzzFailure(AssertionError):
    """A fuzz input gave an outcome other than a palette or a one-line PaletteError."""


def _one_line_error(exc: BaseException) -> str:
    message = str(exc)
    if not message or "\n" in message:
        raise FuzzFailure(f"{type(exc).__name__} message is not one non-empty line: {message!r}")
    return type(exc).__name__


def check(data: bytes, *, k: int = 4, max_pixels: int = FUZZ_MAX_PIXELS, path: Path | None = None) -> str:
    """Run `data` through extract and load_image(frames="all"); return the outcomes or raise FuzzFailure.

    The source is the bytes themselves, or with `path` a file holding them (the path
    for extract, an open binary file for load_image): each kind of source has its
    own reading code.
    """
    import chromapal  # here, so that the sanitized build on PYTHONPATH is what `make fuzz` imports
    from chromapal import PaletteError

    if path is not None:
        path.write_bytes(data)
    outcomes = []
    for what in ("extract", "load-all"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                if what == "extract":
                    palette = chromapal.extract(data if path is None else path, k=k, max_pixels=max_pixels)
                    if not 1 <= len(palette.hex) <= k:
                        raise FuzzFailure(f"extract gave {len(palette.hex)} colours for k={k}")
                else:
                    if path is None:
                        loaded = chromapal.load_image(data, frames="all", max_pixels=max_pixels)
                    else:
                        with path.open("rb") as fp:
                            loaded = chromapal.load_image(fp, frames="all", max_pixels=max_pixels)
                    pixels = getattr(loaded, "pixels", loaded)
                    if pixels.dtype != np.uint8 or pixels.ndim != 3 or pixels.shape[2] not in (3, 4):
                        raise FuzzFailure(f"load_image gave {pixels.dtype} {pixels.shape}")
            outcomes.append("ok")
        except PaletteError as exc:
            outcomes.append(_one_line_error(exc))
        except FuzzFailure:
            raise
        except Exception as exc:  # noqa: BLE001 - the point of the check
            raise FuzzFailure(f"{what}: unexpected {type(exc).__name__}: {exc}") from exc
    return "/".join(outcomes)


def run(
    formats: list[str],
    count: int,
    *,
    seconds: float = 0.0,
    first_seed: int = 0,
    progress: Path | None = None,
) -> Counter[str]:
    """Check `count` samples of each format (all formats in turn), stopping early after `seconds` if > 0.

    `progress`, if given, holds the sample being checked (written before each check),
    so that a crash that kills the process still names its reproducer.
    Raises FuzzFailure naming the format, seed and mutations of the first bad sample.
    """
    tally: Counter[str] = Counter()
    deadline = time.monotonic() + seconds if seconds > 0 else None
    with tempfile.TemporaryDirectory(prefix="chromapal-fuzz-") as tmp:
        for seed in range(first_seed, first_seed + count):
            _run_seed(formats, seed, tally, deadline, progress, Path(tmp) / "sample.bin")
            if deadline is not None and time.monotonic() > deadline:
                break
    return tally


def _run_seed(
    formats: list[str], seed: int, tally: Counter[str], deadline: float | None, progress: Path | None, path: Path
) -> None:
    """One seed of each format; odd seeds are read from a file (path and file object), even ones from bytes."""
    for fmt in formats:
        if deadline is not None and time.monotonic() > deadline:
            return
        data, how = sample(fmt, seed)
        if progress is not None:
            progress.write_text(f"{fmt} seed {seed}: {how}\n")
        try:
            outcome = check(data, path=path if seed % 2 else None)
        except FuzzFailure as exc:
            raise FuzzFailure(
                f"{fmt} seed {seed} ({how}; read from {'a file' if seed % 2 else 'bytes'}): {exc}\n"
                f"  reproduce: python tests/fuzzing.py --formats {fmt} --seed {seed} --write sample.bin"
            ) from exc
        tally[f"{fmt} {outcome}"] += 1
        tally["total"] += 1


def main(argv: list[str] | None = None) -> int:
    """Command line: fuzz within a budget and print a tally, or write one sample (see the module docstring)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100, help="samples per format (default 100)")
    parser.add_argument("--seconds", type=float, default=0.0, help="stop after this long (0: no limit)")
    parser.add_argument("--seed", type=int, default=0, help="first seed (default 0)")
    parser.add_argument("--formats", default=",".join(FORMATS), help="comma-separated (default: all)")
    parser.add_argument("--progress", type=Path, help="file naming the sample being checked (for crashes)")
    parser.add_argument("--write", type=Path, help="write the sample of --seed (one format) here and exit")
    args = parser.parse_args(argv)
    formats = args.formats.split(",")
    unknown = sorted(set(formats) - set(FORMATS))
    if unknown:
        parser.error(f"unknown formats: {', '.join(unknown)} (known: {', '.join(FORMATS)})")
    if args.write:
        data, how = sample(formats[0], args.seed)
        args.write.write_bytes(data)
        print(f"{args.write}: {formats[0]} seed {args.seed} ({how}), {len(data)} bytes")
        return 0
    start = time.monotonic()
    try:
        tally = run(formats, args.count, seconds=args.seconds, first_seed=args.seed, progress=args.progress)
    except FuzzFailure as exc:
        print(f"FUZZ FAILURE: {exc}", file=sys.stderr)
        return 1
    for key, n in sorted(tally.items()):
        print(f"{n:7d}  {key}")
    print(f"{tally['total']} samples of {len(formats)} formats in {time.monotonic() - start:.1f} s: no failure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
