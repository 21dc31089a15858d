"""Batch runs: input expansion, the never-raising worker, skipping, redoing, failures, stopping."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chromapal import batch as batch_module
from chromapal.batch import BatchOptions, expand_inputs, process, run_batch
from chromapal.store import PaletteStore

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)


def write_bands(
    path: Path, colors: list[tuple[int, int, int]], rows: list[int] | None = None
) -> Path:
    """Write a PNG of flat bands, `rows[i]` rows of `colors[i]` (8 rows each by default)."""
    rows = rows or [8] * len(colors)
    arr = np.concatenate(
        [np.tile(np.array(c, np.uint8), (n, 8, 1)) for c, n in zip(colors, rows, strict=True)]
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def stored(db: PaletteStore) -> dict[str, list[tuple[str, float]]]:
    """Map each source to its [(hex, share), ...] in rank order."""
    out: dict[str, list[tuple[str, float]]] = {}
    for image in db.images():
        out[image.source] = [(c["hex"], c["share"]) for c in image.colors]
    return out


@pytest.fixture
def collection(tmp_path):
    """Three good images (one in a subfolder), a corrupt one and a text file."""
    root = tmp_path / "imgs"
    write_bands(root / "a.png", [RED, BLUE], [24, 8])
    write_bands(root / "b.png", [GREEN])
    write_bands(root / "sub" / "c.png", [WHITE, RED])
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    (root / "notes.txt").write_text("not an image")
    return root


def test_folders_are_searched_recursively_for_images(collection):
    """A folder expands to its image files, recursively and sorted; other files are left out."""
    assert expand_inputs([str(collection)]) == [
        str(collection / "a.png"),
        str(collection / "b.png"),
        str(collection / "broken.png"),
        str(collection / "sub" / "c.png"),
    ]


def test_globs_lists_urls_and_missing_paths(collection, tmp_path):
    """Globs expand; @lists give URLs and list-relative paths; missing paths stay; no repeats."""
    listing = collection / "list.txt"
    listing.write_text(
        "# comment\n\nb.png\nhttps://example.org/iiif/1/full/max/0/default.jpg\nmissing.png\n"
    )

    sources = expand_inputs([str(collection / "*.png"), f"@{listing}", str(collection / "a.png")])

    assert sources == [
        str(collection / "a.png"),
        str(collection / "b.png"),
        str(collection / "broken.png"),
        "https://example.org/iiif/1/full/max/0/default.jpg",
        str(collection / "missing.png"),
    ]


def test_worker_returns_the_palette_as_plain_data(collection):
    """process() gives exact colours, shares, size and stamps of a flat image."""
    result = process(str(collection / "a.png"), BatchOptions(k=2).as_dict())

    st = os.stat(collection / "a.png")
    assert result["ok"] is True
    assert result["colors"] == [list(RED), list(BLUE)]
    assert result["shares"] == [0.75, 0.25]
    assert (result["width"], result["height"]) == (8, 32)
    assert (result["size"], result["mtime_ns"]) == (st.st_size, st.st_mtime_ns)


@pytest.mark.parametrize(
    "name, error", [("broken.png", "UnreadableImageError"), ("nothing.png", "UnreadableImageError")]
)
def test_worker_never_raises(collection, name, error):
    """Corrupt and missing files come back as failure records with a reason."""
    result = process(str(collection / name), BatchOptions().as_dict())

    assert result["ok"] is False
    assert result["error"] == error
    assert result["reason"].startswith(str(collection / name))


def test_failures_are_stored_and_the_rest_succeed(collection, tmp_path):
    """A corrupt and a missing file are failures; every good image is stored."""
    sources = expand_inputs([str(collection), str(collection / "gone.png")])
    with PaletteStore(tmp_path / "p.sqlite") as db:
        summary = run_batch(sources, db, BatchOptions(k=2), workers=1)

        assert (summary.done, summary.skipped, summary.failed) == (3, 0, 2)
        assert stored(db) == {
            str(collection / "a.png"): [("#ff0000", 0.75), ("#0000ff", 0.25)],
            str(collection / "b.png"): [("#00ff00", 1.0)],
            str(collection / "sub" / "c.png"): [("#ff0000", 0.5), ("#ffffff", 0.5)],
        }
        assert sorted(f["source"] for f in db.failures()) == [
            str(collection / "broken.png"),
            str(collection / "gone.png"),
        ]
        assert summary.reasons[0].startswith(str(collection / "broken.png"))


def test_rerun_skips_done_and_redoes_changed_files_and_new_options(collection, tmp_path):
    """Done images are skipped; a changed file and other options are extracted again."""
    sources = expand_inputs([str(collection / "a.png"), str(collection / "b.png")])
    with PaletteStore(tmp_path / "p.sqlite") as db:
        run_batch(sources, db, BatchOptions(k=2), workers=1)
        write_bands(collection / "b.png", [BLUE, WHITE], [8, 8])
        os.utime(collection / "b.png", ns=(1, 10**18))  # a different mtime even on coarse clocks

        again = run_batch(sources, db, BatchOptions(k=2), workers=1)
        other = run_batch(sources, db, BatchOptions(k=1), workers=1)

        assert (again.done, again.skipped, again.failed) == (1, 1, 0)
        assert (other.done, other.skipped) == (2, 0)
        assert db.count("images") == 4
        b = [i for i in db.images() if i.source.endswith("b.png") and i.k == 2]
        assert [c["hex"] for c in b[0].colors] == ["#0000ff", "#ffffff"]


def test_process_pool_gives_the_same_rows_as_inline(collection, tmp_path):
    """Two worker processes store exactly what one in-process worker stores."""
    sources = expand_inputs([str(collection)])
    with PaletteStore(tmp_path / "one.sqlite") as one, PaletteStore(tmp_path / "two.sqlite") as two:
        run_batch(sources, one, BatchOptions(k=2), workers=1)
        summary = run_batch(sources, two, BatchOptions(k=2), workers=2)

        assert (summary.done, summary.failed) == (3, 1)
        assert stored(two) == stored(one)


def test_progress_callback_sees_every_source(collection, tmp_path):
    """The callback is called once per source with running counts; the last call has them all."""
    seen = []
    sources = expand_inputs([str(collection)])
    with PaletteStore(tmp_path / "p.sqlite") as db:
        run_batch(
            sources,
            db,
            BatchOptions(k=2),
            workers=1,
            progress=lambda p: seen.append((p.finished, p.done, p.failed, p.total)),
        )

    assert seen == [(1, 1, 0, 4), (2, 2, 0, 4), (3, 2, 1, 4), (4, 3, 1, 4)]


def test_stopping_finishes_the_current_image_and_a_rerun_completes(collection, tmp_path):
    """A stop asked during the first image halts after storing it; the next run does the rest."""
    sources = expand_inputs(
        [str(collection / "a.png"), str(collection / "b.png"), str(collection / "sub")]
    )
    with PaletteStore(tmp_path / "p.sqlite") as db:
        asked = []
        first = run_batch(
            sources,
            db,
            BatchOptions(k=2),
            workers=1,
            progress=lambda p: asked.append(True),
            should_stop=lambda: bool(asked),
        )
        assert first.interrupted and (first.done, db.count("images")) == (1, 1)

        nothing = run_batch(sources, db, BatchOptions(k=2), workers=1, should_stop=lambda: True)
        assert nothing.interrupted and (nothing.done, nothing.skipped) == (0, 0)

        second = run_batch(sources, db, BatchOptions(k=2), workers=1)
        assert (second.interrupted, second.done, second.skipped) == (False, 2, 1)
        runs = db.conn.execute(
            "SELECT done, skipped, failed, interrupted FROM runs ORDER BY id"
        ).fetchall()
        assert runs == [(1, 0, 0, 1), (0, 0, 0, 1), (2, 1, 0, 0)]


def test_options_key_holds_k_and_changed_options_only():
    """The done key lists k and the options that differ from extract's defaults."""
    assert BatchOptions(k=8, seed=0, space="oklab").key == '{"k":8}'
    assert BatchOptions(k=8, space="lab", seed=3).key == '{"k":8,"seed":3,"space":"cielab"}'
    with pytest.raises(TypeError, match="unknown extraction option"):
        BatchOptions(colours=8)


def test_auto_k_and_other_extract_options_reach_the_worker(collection, tmp_path):
    """The k='auto' and extract keywords pass through; stored k and space are the palette's."""
    sources = [str(collection / "a.png")]
    with PaletteStore(tmp_path / "p.sqlite") as db:
        summary = run_batch(sources, db, BatchOptions(k="auto", space="cielab"), workers=1)

        assert (summary.done, summary.failed) == (1, 0)
        image = next(db.images())
        assert image.space == "cielab"
        assert image.options == '{"k":"auto","space":"cielab"}'
        assert [c["hex"] for c in image.colors] == ["#ff0000", "#0000ff"]


# -- the per-image deadline ---------------------------------------------------------------------


def stalling_process(source: str, options: dict, timeout: float | None = None) -> dict:
    """`process`, except that an image named ``stall*`` never finishes (module-level: picklable)."""
    if os.path.basename(source).startswith("stall"):
        time.sleep(600)
    return process(source, options, timeout)


@pytest.mark.parametrize("workers", [1, 2])
def test_an_image_past_its_deadline_fails_alone_and_the_run_goes_on(
    collection, tmp_path, monkeypatch, workers
):
    """A stalled image is killed at the deadline, recorded as "took longer than N s"; the rest stored."""
    write_bands(collection / "stall.png", [RED])
    monkeypatch.setattr(batch_module, "process", stalling_process)
    sources = expand_inputs([str(collection / "a.png"), str(collection / "stall.png"),
                             str(collection / "b.png"), str(collection / "sub")])
    started = time.monotonic()
    with PaletteStore(tmp_path / "p.sqlite") as db:
        summary = run_batch(sources, db, BatchOptions(k=2), workers=workers, timeout=1)

        assert time.monotonic() - started < 15
        assert (summary.done, summary.failed, summary.interrupted) == (3, 1, False)
        assert db.failures() == [
            {
                "source": str(collection / "stall.png"),
                "error": "ImageTimeoutError",
                "reason": f"{collection / 'stall.png'}: took longer than 1 s",
            }
        ]
        assert set(stored(db)) == {str(collection / n) for n in ("a.png", "b.png", "sub/c.png")}


def test_a_stalled_download_fails_at_the_deadline(collection, tmp_path, http_server):
    """A URL whose server never answers costs the deadline, not more, and the batch goes on."""
    sources = [f"{http_server}/silent", str(collection / "a.png")]
    started = time.monotonic()
    with PaletteStore(tmp_path / "p.sqlite") as db:
        summary = run_batch(sources, db, BatchOptions(k=2), workers=1, timeout=1)

        assert time.monotonic() - started < 6
        assert (summary.done, summary.failed) == (1, 1)
        assert db.failures()[0]["reason"].startswith(f"{http_server}/silent: ")


def test_the_deadline_is_not_part_of_the_done_key(collection, tmp_path):
    """Images stored with one --timeout are skipped when the run is repeated with another."""
    sources = [str(collection / "a.png")]
    with PaletteStore(tmp_path / "p.sqlite") as db:
        run_batch(sources, db, BatchOptions(k=2), workers=1, timeout=30)
        again = run_batch(sources, db, BatchOptions(k=2), workers=1, timeout=None)

        assert (again.done, again.skipped) == (0, 1)
    with pytest.raises(TypeError, match="unknown extraction option"):
        BatchOptions(k=2, timeout=5)


KODIM23 = Path(__file__).parent / "data" / "kodim23.png"


def test_a_batch_stores_the_palettes_error_as_extract_measures_it(tmp_path):
    """Issue 12: each stored palette carries ``delta_e``, exactly `extract(..., delta_e=True)`'s.

    Worker processes (``workers=2``) as a real run uses; the export carries it and colour
    search is unchanged by it (its ``delta_e`` is still the query's distance).
    """
    import csv
    import io

    from chromapal import extract
    from chromapal.search import search
    from chromapal.store_export import export

    expected = extract(KODIM23, k=5, seed=3, delta_e=True)
    assert expected.delta_e is not None and expected.delta_e > 1.0  # a photo in 5 colours is not exact
    source = str(KODIM23)
    with PaletteStore(tmp_path / "p.sqlite") as db:
        summary = run_batch([source], db, BatchOptions(k=5, seed=3), workers=2)
        assert (summary.done, summary.failed) == (1, 0)
        (image,) = db.images()
        assert image.delta_e == expected.delta_e
        assert [c["hex"] for c in image.colors] == expected.hex
        assert image.options == '{"k":5,"seed":3}'  # not part of the done key
        out = io.StringIO()
        export(db, "csv", out)
        assert {float(r["delta_e"]) for r in csv.DictReader(io.StringIO(out.getvalue()))} == {expected.delta_e}

        (match,) = search(db, image.colors[0]["hex"], max_delta_e=1.0)
        assert (match.source, match.rank, match.delta_e) == (source, 1, 0.0)
        assert set(match.to_dict()) == {"source", "hex", "share", "delta_e", "rank", "k", "options", "label"}


def test_the_worker_measures_delta_e_even_when_the_options_ask_it_too(collection):
    """``delta_e`` is always measured (an option naming it is not passed twice)."""
    result = process(str(collection / "a.png"), {**BatchOptions(k=2).as_dict(), "delta_e": True})
    assert result["ok"] is True and result["delta_e"] == 0.0  # two flat colours, both kept: exact
