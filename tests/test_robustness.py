"""Damaged files (truncated, bit-flipped, mislabelled, empty, huge) only raise PaletteErrors.

About 2,600 damaged copies of a small photo (five formats, plus an animated GIF and a two-page
TIFF read with frames="all"), and a few hand-made bombs (a double-IHDR PNG, IDAT split by
another chunk, a JPEG repeating one scan 1,000 times, a GIF of 100,000 frames), are made at
test time with a fixed seed and fed to
`chromapal.extract` and to the CLI in two worker processes; a handful also go through real
`python -m chromapal` processes. Hangs (a time limit per chunk of files, and each file timed),
crashes (any exception but a PaletteError, any CLI output but one error line) and runaway
memory (the workers' peak RSS) fail the test.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import subprocess
import sys
import time
import warnings
import zlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import declare_size, encode
from PIL import Image, ImageOps
from test_load import many_frames_gif, repeated_scan_jpeg
from test_png import double_ihdr_bomb, png_parts

from chromapal import PaletteError, cli, extract
from chromapal.load import MAX_PIXELS

SEED = 20_240_611
#: Damaged copies made of each base file, by kind of damage.
PER_BASE = {"truncated": 110, "flipped": 110, "header-flipped": 100, "overwritten": 40}
#: The formats made from the photo: extension -> (Pillow format, save options).
FORMATS = {
    "png": ("PNG", {}),
    "jpg": ("JPEG", {"quality": 90}),
    "gif": ("GIF", {}),
    "webp": ("WEBP", {"quality": 80}),
    "tif": ("TIFF", {"compression": "tiff_lzw"}),
}
#: Multi-frame bases, read with frames="all": an animated GIF and a TIFF with pages of two sizes.
MULTI_FRAME = {"anim": "gif", "pages": "tif"}
#: Sizes written into otherwise valid headers (formats clamp them to what their fields hold);
#: 9000x9000 and 3000x2000 are within the default limit, but the data cannot fill them: JPEGs are
#: refused as truncated from their size alone, other formats decode as far as the data goes.
HUGE_SIZES = [
    (100_000, 100_000),
    (65_535, 65_535),
    (16_383, 16_383),
    (1, 2_000_000_000),
    (9_000, 9_000),
    (3_000, 2_000),
]
K = 4
WORKERS = 2
CHUNKS = 24
#: Upper bounds: seconds for one file (extract + CLI), for one chunk of files, peak worker memory.
#: The slowest files are the 9000x9000 GIF and TIFF (decoded until their data runs out, then
#: refused): well under a second on an idle core, so 2 runs on a loaded 2-core machine have room.
PER_FILE_SECONDS = 15.0
CHUNK_SECONDS = 120.0
MAX_RSS_MB = 1_500
#: Hand-made bombs: file name -> the one result allowed (files named "anim-..." are read with
#: frames="all"). The double-IHDR PNG is decoded as Pillow reads it: 1x1.
BOMBS = {
    "png-bomb-double-ihdr.png": "ok",
    "png-bomb-split-idat.png": "UnreadableImageError",
    "jpg-bomb-scans.jpg": "UnreadableImageError",
    "anim-bomb-frames.gif": "ImageTooLargeError",
}
#: Real processes: files per run and seconds allowed.
SUBPROCESS_FILES = 12
SUBPROCESS_TIMEOUT = 120


@dataclass(frozen=True)
class Outcome:
    """What happened to one damaged file in a worker."""

    name: str
    result: str  # "ok", the PaletteError class name, or "CRASH"
    problem: str | None  # why it counts as a failure, if it does
    seconds: float


# -- making damaged files -------------------------------------------------------------------


def base_files(photo: Image.Image) -> dict[str, tuple[str, bytes]]:
    """Return the undamaged files: base name -> (extension, bytes)."""
    bases = {ext: (ext, encode(photo, fmt, **options)) for ext, (fmt, options) in FORMATS.items()}
    others = [ImageOps.invert(photo), photo.transpose(Image.Transpose.FLIP_TOP_BOTTOM)]
    bases["anim"] = ("gif", encode(photo, "GIF", save_all=True, append_images=others, duration=50))
    small = photo.resize((48, 32))
    pages = encode(photo, "TIFF", save_all=True, append_images=[small], compression="tiff_lzw")
    bases["pages"] = ("tif", pages)
    return bases


def frames_for(name: str) -> str:
    """Return the `frames` option a damaged file is read with."""
    return "all" if name.split("-")[0] in MULTI_FRAME else "first"


def damaged_files(photo: Image.Image, folder: Path) -> dict[str, str]:
    """Write every damaged file into `folder`; return file name -> kind of damage."""
    rng = np.random.default_rng(SEED)
    bases = base_files(photo)
    made: dict[str, str] = {}

    def write(name: str, kind: str, data: bytes) -> None:
        (folder / name).write_bytes(data)
        made[name] = kind

    for base, (ext, good) in bases.items():
        for i in range(PER_BASE["truncated"]):
            cut = good[: int(rng.integers(0, len(good)))]
            write(f"{base}-truncated-{i}.{ext}", "truncated", cut)
        for kind, span in (("flipped", len(good)), ("header-flipped", min(len(good), 96))):
            for i in range(PER_BASE[kind]):
                data = bytearray(good)
                for at in rng.integers(0, span, int(rng.integers(1, 9))):
                    data[at] ^= 1 << int(rng.integers(0, 8))
                write(f"{base}-{kind}-{i}.{ext}", kind, bytes(data))
        for i in range(PER_BASE["overwritten"]):
            data = bytearray(good)
            start = int(rng.integers(0, len(good)))
            data[start : start + int(rng.integers(1, 64))] = rng.integers(
                0, 256, 64, dtype=np.uint8
            ).tobytes()
            write(f"{base}-overwritten-{i}.{ext}", "overwritten", bytes(data[: len(good)]))
        for other in FORMATS:
            if other != ext:
                write(f"{base}-as-{other}.{other}", "mislabelled", good)
        write(f"{base}-empty.{ext}", "empty", b"")
        for w, h in HUGE_SIZES:
            data = bytearray(good)
            declared_w, declared_h = declare_size(ext, data, w, h)
            kind = "huge" if declared_w * declared_h > MAX_PIXELS else "large"
            write(f"{base}-size-{w}x{h}.{ext}", kind, bytes(data))
    for name, data in bomb_files(photo).items():
        write(name, "bomb", data)
    return made


def bomb_files(photo: Image.Image) -> dict[str, bytes]:
    """The hand-made hostile files of BOMBS, by name."""
    head, idats, end = png_parts(np.asarray(photo), split=3)
    text = b"\0\0\0\x03tEXta\0b" + zlib.crc32(b"tEXta\0b").to_bytes(4, "big")
    return {
        "png-bomb-double-ihdr.png": double_ihdr_bomb(4_000),
        "png-bomb-split-idat.png": head + idats[0] + text + b"".join(idats[1:]) + end,
        "jpg-bomb-scans.jpg": repeated_scan_jpeg(1_000, 1_000),
        "anim-bomb-frames.gif": many_frames_gif(100_000),
    }


@pytest.fixture(scope="module")
def damaged(small_photo, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Return the folder of damaged files and their kinds."""
    folder = tmp_path_factory.mktemp("damaged")
    return folder, damaged_files(small_photo, folder)


# -- checking them in worker processes ----------------------------------------------------


def _cli_problem(result, name: str, extracted: bool) -> str | None:
    """Why the CLI run on `name` misbehaved, or None."""
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"CLI raised {type(result.exception).__name__}: {result.exception}"
    lines = result.stderr.splitlines()
    errors = [line for line in lines if not line.startswith(f"note: {name}: ")]
    if extracted:
        return (
            None
            if result.exit_code == 0 and not errors and result.stdout
            else f"CLI failed: {result.stderr!r}"
        )
    if result.exit_code != 1 or len(errors) != 1 or not errors[0].startswith(f"Error: {name}: "):
        return f"CLI exit {result.exit_code}, stderr {result.stderr!r}"
    if "unexpected" in errors[0] or "Traceback" in result.output:
        return f"CLI hid a crash: {errors[0]}"
    return None


def check_files(folder: str, names: list[str]) -> tuple[list[Outcome], float]:
    """Worker: run extract and the CLI on each file; return the outcomes and peak RSS in MB."""
    os.chdir(folder)  # so the CLI names files as given
    warnings.simplefilter("ignore")  # Pillow warns about damaged files; only exceptions matter
    runner = CliRunner()
    outcomes = []
    for name in names:
        start = time.perf_counter()
        problem = None
        frames = frames_for(name)
        try:
            extract(name, k=K, frames=frames)
            result = "ok"
        except PaletteError as exc:
            result = type(exc).__name__
            if not str(exc).startswith(f"{name}: ") or "\n" in str(exc):
                problem = f"message not one line naming the file: {exc!r}"
        except Exception as exc:  # noqa: BLE001 - this is what the test looks for
            result, problem = "CRASH", f"extract raised {type(exc).__name__}: {exc}"
        problem = problem or _cli_problem(
            runner.invoke(cli.main, [name, "-k", str(K), "--frames", frames]), name, result == "ok"
        )
        outcomes.append(Outcome(name, result, problem, time.perf_counter() - start))
    return outcomes, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _run_check_files(args: tuple[str, list[str]]) -> tuple[list[Outcome], float]:
    return check_files(*args)


@pytest.fixture(scope="module")
def outcomes(damaged) -> tuple[dict[str, Outcome], float]:
    """Every damaged file checked by two spawned workers: outcomes by name, peak RSS in MB."""
    folder, made = damaged
    names = sorted(made)
    chunks = [(str(folder), names[i::CHUNKS]) for i in range(CHUNKS)]
    results: dict[str, Outcome] = {}
    peak = 0.0
    pool = multiprocessing.get_context("spawn").Pool(WORKERS)
    try:
        pending = pool.imap_unordered(_run_check_files, chunks)
        for _ in chunks:
            try:
                found, rss = pending.next(timeout=CHUNK_SECONDS)
            except multiprocessing.TimeoutError:
                pytest.fail(
                    f"a chunk of {len(names) // CHUNKS} damaged files took over "
                    f"{CHUNK_SECONDS} s: a hang"
                )
            results.update((o.name, o) for o in found)
            peak = max(peak, rss)
    finally:
        pool.terminate()
        pool.join()
    return results, peak


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_damaged_files_raise_only_palette_errors(damaged, outcomes):
    """No damaged file makes extract or the CLI raise anything but a one-line PaletteError."""
    results, _ = outcomes

    assert len(results) == len(damaged[1])
    failures = [f"{o.name}: {o.problem}" for o in results.values() if o.problem]
    assert failures == [], f"{len(failures)} files misbehaved:\n" + "\n".join(failures[:30])


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_damaged_files_neither_hang_nor_use_runaway_memory(outcomes):
    """Each file takes under PER_FILE_SECONDS and the workers' peak RSS stays under MAX_RSS_MB."""
    results, peak_mb = outcomes
    slowest = max(results.values(), key=lambda o: o.seconds)

    assert slowest.seconds < PER_FILE_SECONDS, slowest
    assert peak_mb < MAX_RSS_MB


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_damage_kinds_end_as_expected(damaged, outcomes):
    """Mislabelled files work; empty and over-limit files fail; the mix is not one-sided."""
    made = damaged[1]
    results, _ = outcomes
    by_kind: dict[str, Counter[str]] = {}
    for name, kind in made.items():
        by_kind.setdefault(kind, Counter())[results[name].result] += 1

    assert set(by_kind["mislabelled"]) == {"ok"}
    assert by_kind["empty"] == Counter({"UnreadableImageError": len(FORMATS) + len(MULTI_FRAME)})
    assert set(by_kind["huge"]) == {"ImageTooLargeError"}
    truncated = by_kind["truncated"]
    assert truncated["ok"] < truncated.total() // 10 < truncated["UnreadableImageError"]
    assert 0 < by_kind["flipped"]["ok"] < by_kind["flipped"].total()
    assert {name: results[name].result for name in BOMBS} == BOMBS
    # a JPEG whose data cannot hold its 9000x9000 header is an error (it was grey fill)
    assert results["jpg-size-9000x9000.jpg"].result == "UnreadableImageError"


@pytest.mark.slow
@pytest.mark.timeout(3 * SUBPROCESS_TIMEOUT)
def test_damaged_files_through_real_processes(damaged, outcomes):
    """`python -m chromapal` on damaged files: good ones printed, one line per bad one."""
    folder, made = damaged
    results, _ = outcomes
    rng = np.random.default_rng(SEED)
    single = sorted(n for n in made if frames_for(n) == "first")
    names = sorted(rng.choice(single, SUBPROCESS_FILES, replace=False).tolist())
    forced = (
        "png-empty.png",
        "gif-size-100000x100000.gif",
        "tif-size-3000x2000.tif",
        "tif-truncated-3.tif",
    )
    names += [n for n in forced if n not in names]  # libtiff prints to fd 2 for the 3000x2000 TIFF
    env = {**os.environ, "NO_COLOR": "1"}

    done = subprocess.run(
        [sys.executable, "-m", "chromapal", *names, "-k", str(K)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT,
        env=env,
        check=False,
    )

    bad = [n for n in names if results[n].result != "ok"]
    errors = [line for line in done.stderr.splitlines() if not line.startswith("note: ")]
    assert done.returncode == (1 if bad else 0)
    assert [line.split(": ")[1] for line in errors] == bad
    assert all(line.startswith("Error: ") and "unexpected" not in line for line in errors), errors
    printed = [line.split("  (")[0] for line in done.stdout.splitlines() if "colours," in line]
    assert printed == [n for n in names if n not in bad]
