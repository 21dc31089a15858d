"""A batch's grouped commits under kill -9, and a k range decoded once per image."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_cli_batch import write_noise

from chromapal import batch_worker
from chromapal.batch import BatchOptions, expand_inputs, run_batch
from chromapal.pipeline import extract
from chromapal.store import PaletteStore

CHROMAPAL = [sys.executable, "-m", "chromapal"]


def palettes(db: Path) -> list[tuple[str, int, int, int, int]]:
    """(source, k, colour rows, ranks 1..n in order, facet rows) of every stored palette."""
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute(
            "SELECT i.source, i.k, "
            "(SELECT COUNT(*) FROM colors c WHERE c.image_id = i.id), "
            "(SELECT COUNT(*) FROM colors c WHERE c.image_id = i.id AND c.rank <= i.n_colors), "
            "(SELECT COUNT(*) FROM facets f WHERE f.image_id = i.id) "
            "FROM images i ORDER BY i.source, i.k"
        ).fetchall()
    except sqlite3.OperationalError:  # the tables are not there yet
        return []
    finally:
        con.close()


def transactions(db: Path) -> list[int]:
    """Palettes per commit: the rows of one transaction share their `created` time."""
    con = sqlite3.connect(db, timeout=10)
    try:
        return [n for (n,) in con.execute("SELECT COUNT(*) FROM images GROUP BY created ORDER BY created")]
    finally:
        con.close()


@pytest.mark.slow
def test_kill_9_between_grouped_commits_loses_only_the_uncommitted_and_a_rerun_redoes_them(tmp_path):
    """Many palettes per transaction; kill -9 keeps whole palettes; the rerun does exactly the rest."""
    paths = write_noise(tmp_path / "noise", 400, side=24)
    db = tmp_path / "p.sqlite"
    command = [*CHROMAPAL, "batch", str(tmp_path / "noise"), "-k", "3-4", "--db", str(db), "--workers", "1"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(palettes(db)) < 10:  # past the first commit (at once) and one group
            assert proc.poll() is None, "the batch ended before it could be killed"
            assert time.monotonic() < deadline, "the batch stored nothing in time"
            time.sleep(0.01)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    before = palettes(db)
    assert 10 <= len(before) < 2 * len(paths), "the kill must land in the middle of the batch"
    assert max(transactions(db)) > 1, "palettes were committed one transaction each"
    # whole palettes only: every colour row, ranks 1..n, facets, for both k of an image
    assert all(n == ranks == k and facets >= 1 for _, k, n, ranks, facets in before)

    rerun = subprocess.run(command, capture_output=True, text=True, timeout=300)

    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.startswith(f"{2 * len(paths) - len(before)} done, {len(before)} skipped, 0 failed")
    after = palettes(db)
    assert [(s, k) for s, k, *_ in after] == sorted((str(p), k) for p in paths for k in (3, 4))
    assert all(n == ranks == k and facets >= 1 for _, k, n, ranks, facets in after)
    assert set(before) <= set(after)


def test_a_k_range_decodes_each_image_once_and_stores_what_extract_gives(tmp_path, monkeypatch):
    """-k 2-4 in one run: one decode per image, three palettes each, exactly extract's; runs per k."""
    paths = write_noise(tmp_path / "noise", 3, side=20)
    decoded = []
    real_load = batch_worker.load_image
    monkeypatch.setattr(batch_worker, "load_image", lambda src, **kw: decoded.append(src) or real_load(src, **kw))
    runs = [BatchOptions(k=k, seed=2) for k in (2, 3, 4)]
    sources = expand_inputs([str(tmp_path / "noise")])
    with PaletteStore(tmp_path / "p.sqlite") as db:
        summary = run_batch(sources, db, runs, workers=1, timeout=None)

        assert (summary.total, summary.done, summary.skipped, summary.failed) == (9, 9, 0, 0)
        assert sorted(decoded) == sorted(sources)
        for path in paths:
            for k in (2, 3, 4):
                (image,) = [
                    i for i in db.images(source=str(path)) if i.k == k
                ]
                expected = extract(path, k=k, seed=2, delta_e=True)
                assert [c["hex"] for c in image.colors] == expected.hex
                assert image.delta_e == expected.delta_e
                assert image.options == runs[k - 2].key
        assert db.conn.execute("SELECT options, done FROM runs ORDER BY id").fetchall() == [
            (run.key, 3) for run in runs
        ]

        # one palette lost: the rerun decodes that image once, for that k only
        db.conn.execute("DELETE FROM colors WHERE image_id = (SELECT id FROM images WHERE source = ? AND k = 3)",
                        (str(paths[1]),))
        db.conn.execute("DELETE FROM images WHERE source = ? AND k = 3", (str(paths[1]),))
        decoded.clear()
        again = run_batch(sources, db, runs, workers=1, timeout=None)
        assert (again.done, again.skipped, again.failed) == (1, 8, 0)
        assert decoded == [str(paths[1])]
        assert len(list(db.images())) == 9


def test_a_k_range_fails_every_k_of_a_bad_image_and_goes_on(tmp_path):
    """A corrupt file is one failure per k; the good images get every k (in worker processes)."""
    write_noise(tmp_path / "imgs", 2, side=16)
    (tmp_path / "imgs" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    sources = expand_inputs([str(tmp_path / "imgs")])
    with PaletteStore(tmp_path / "p.sqlite") as db:
        summary = run_batch(sources, db, [BatchOptions(k=1), BatchOptions(k=2)], workers=2)
        assert (summary.done, summary.failed) == (4, 2)
        assert [f["source"] for f in db.failures()] == [str(tmp_path / "imgs" / "bad.png")] * 2
        assert summary.reasons[0].startswith(str(tmp_path / "imgs" / "bad.png"))


def test_options_that_differ_in_more_than_k_are_refused(tmp_path):
    """One batch decodes once for several k only: other differing options are an error."""
    with PaletteStore(tmp_path / "p.sqlite") as db, pytest.raises(ValueError, match="differ in k only"):
        run_batch([], db, [BatchOptions(k=2), BatchOptions(k=3, seed=1)])
