"""Mutated images of every format through extract and load_image: a palette or a PaletteError, nothing else.

The fast, non-sanitizer share of ``make fuzz`` (which runs thousands of samples
under ASan and UBSan): FUZZ_PER_FORMAT seeded samples per format, so a regression
in any decoder path shows up in ``make test``. The generator is tested too: its
images are valid before mutation, the same seed gives the same bytes, and every
kind of mutation occurs.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from PIL import Image

import chromapal
from chromapal import UnreadableImageError

from fuzzing import FORMATS, FuzzFailure, check, generate, interlaced_png, main, mutate, run, sample

#: Samples per format checked in the normal suite (about 2 ms each: 1,400 in about 3 s).
FUZZ_PER_FORMAT = 100


@pytest.mark.parametrize("fmt", FORMATS)
def test_mutated_images_give_a_palette_or_a_palette_error(fmt: str) -> None:
    """Each seeded sample of `fmt` (1 in 20 valid, the rest damaged) gives a palette or a one-line PaletteError."""
    tally = run([fmt], FUZZ_PER_FORMAT)

    assert tally["total"] == FUZZ_PER_FORMAT
    # the samples are not all rejected at the door: some decode and give a palette
    assert any(key.startswith(f"{fmt} ok") for key in tally), tally


@pytest.mark.parametrize("fmt", FORMATS)
def test_generated_images_are_valid(fmt: str) -> None:
    """Before mutation every sample opens in Pillow as its format and fully decodes."""
    expected = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "bmp": "BMP", "tiff": "TIFF", "webp": "WEBP",
                "ico": "ICO", "ppm": "PPM", "tga": "TGA"}[fmt.split("-")[0]]
    for seed in range(5):
        with Image.open(io.BytesIO(generate(fmt, seed))) as im:
            assert im.format == expected
            im.load()
            assert im.width > 0 and im.height > 0


def test_variants_are_what_their_names_say() -> None:
    """Palette, 16-bit, interlaced, progressive and animated samples really are."""
    def info(fmt: str) -> tuple[str, dict, int]:
        with Image.open(io.BytesIO(generate(fmt, 3))) as im:
            return im.mode, dict(im.info), getattr(im, "n_frames", 1)

    assert info("png-palette")[0] == "P"
    assert info("png-16bit")[0].startswith("I")
    assert info("png-interlaced")[1].get("interlace") == 1
    assert info("jpeg-progressive")[1].get("progressive") == 1
    assert info("gif-animated")[2] > 1


def test_interlaced_png_decodes_to_its_pixels() -> None:
    """The hand-written Adam7 encoder gives Pillow back the exact pixels (every filter, odd sizes)."""
    rng = np.random.default_rng(0)
    for shape in [(1, 1, 3), (7, 5, 4), (9, 17, 3), (33, 2, 4)]:
        arr = rng.integers(0, 256, shape, dtype=np.uint8)
        with Image.open(io.BytesIO(interlaced_png(arr, rng))) as im:
            np.testing.assert_array_equal(np.asarray(im), arr)


def test_samples_are_reproducible_and_mostly_mutated() -> None:
    """The same (format, seed) gives the same bytes; 1 in 20 is the valid image, nearly all others differ from it."""
    assert sample("tiff", 7) == sample("tiff", 7)
    assert sample("png-rgb", 20) == (generate("png-rgb", 20), "valid")
    changed = sum(sample("bmp", seed)[0] != generate("bmp", seed) for seed in range(1, 60) if seed % 20)
    assert changed >= 50


def test_every_mutation_kind_occurs() -> None:
    """Over a few hundred seeds the generic, PNG-chunk and JPEG-scan mutations all happen."""
    seen = set()
    for seed in range(300):
        for fmt in ("png-rgb", "jpeg-progressive", "tiff"):
            _, how = mutate(generate(fmt, seed), fmt, seed)
            seen.update(re.sub(r"[@(=].*", "", word) for word in how.split())
    assert seen >= {"flip", "insert", "delete", "duplicate", "field", "truncate", "png-dup", "png-length",
                    "png-swap", "png-ihdr", "png-raw", "png-split", "png-crc", "jpeg-scan-repeat"}, seen


def test_check_fails_on_any_other_exception(monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception that is not a PaletteError, or a multi-line message, is a fuzz failure."""
    data = generate("png-rgb", 0)
    assert check(data) == "ok/ok"

    def raises(exc: Exception):  # noqa: ANN202
        def fn(*args: object, **kwargs: object) -> None:
            raise exc
        return fn

    monkeypatch.setattr(chromapal, "extract", raises(KeyError("boom")))
    with pytest.raises(FuzzFailure, match="unexpected KeyError"):
        check(data)
    monkeypatch.setattr(chromapal, "extract", raises(UnreadableImageError("line one\nline two")))
    with pytest.raises(FuzzFailure, match="not one non-empty line"):
        check(data)


def test_run_names_the_reproducer(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure names the format, seed and mutations, and the command that writes the sample."""
    monkeypatch.setattr(chromapal, "extract", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    with pytest.raises(FuzzFailure, match=r"(?s)ppm seed 3 .*--formats ppm --seed 3 --write"):
        run(["ppm"], 1, first_seed=3)


def test_command_line_writes_one_sample(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    """`fuzzing.py --write` writes exactly the sample of that format and seed; unknown formats are usage errors."""
    out = tmp_path / "s.bin"

    assert main(["--formats", "gif-animated", "--seed", "5", "--write", str(out)]) == 0
    assert out.read_bytes() == sample("gif-animated", 5)[0]
    with pytest.raises(SystemExit) as exc:
        main(["--formats", "jpeg2000"])
    assert exc.value.code == 2
    assert "unknown formats: jpeg2000" in capsys.readouterr().err
