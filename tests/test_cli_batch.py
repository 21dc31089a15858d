"""The batch, export and search commands, including kill -9 and Ctrl-C in the middle of a batch."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from chromapal import cli
from chromapal.pipeline import extract
from chromapal import store_export
from chromapal.store import PaletteStore

CHROMAPAL = [sys.executable, "-m", "chromapal"]
#: Seconds allowed for a subprocess batch to store its first images.
START_TIMEOUT = 30.0


def write_bands(path: Path, colors: list[tuple[int, int, int]]) -> Path:
    """Write a PNG of equal flat horizontal bands."""
    arr = np.concatenate([np.tile(np.array(c, np.uint8), (8, 8, 1)) for c in colors])
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)
    return path


def write_noise(folder: Path, n: int, side: int = 160) -> list[Path]:
    """`n` PNGs of random pixels: slow enough to extract that a batch can be killed midway."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        paths.append(folder / f"noise{i:03d}.png")
        Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(paths[-1])
    return paths


def rows_per_image(db: Path) -> dict[str, list[int]]:
    """Map each source to the ranks of its stored colours."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT i.source, c.rank FROM images i JOIN colors c ON c.image_id = i.id "
            "ORDER BY i.source, c.rank"
        ).fetchall()
        assert con.execute(
            "SELECT COUNT(*) FROM colors WHERE image_id NOT IN (SELECT id FROM images)"
        ).fetchone() == (0,)
    finally:
        con.close()
    out: dict[str, list[int]] = {}
    for source, rank in rows:
        out.setdefault(source, []).append(rank)
    return out


def stored_count(db: Path) -> int:
    """Images stored so far (0 while the database does not exist yet)."""
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute("SELECT COUNT(*) FROM images").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        con.close()


def start_batch(folder: Path, db: Path, workers: int = 1) -> subprocess.Popen[bytes]:
    """Start `chromapal batch` in its own process group (with its pool workers, if any)."""
    return subprocess.Popen(
        [*CHROMAPAL, "batch", str(folder), "-k", "4", "--db", str(db), "--workers", str(workers)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def wait_for_rows(db: Path, at_least: int) -> int:
    """Poll the database until `at_least` images are stored; return the count seen."""
    deadline = time.monotonic() + START_TIMEOUT
    while (n := stored_count(db)) < at_least:
        assert time.monotonic() < deadline, "the batch stored nothing in time"
        time.sleep(0.02)
    return n


@pytest.fixture
def collection(tmp_path):
    """Two flat images and a corrupt one."""
    write_bands(tmp_path / "imgs" / "pink.png", [(193, 164, 169), (32, 48, 64)])
    write_bands(tmp_path / "imgs" / "green.png", [(0, 200, 0)])
    (tmp_path / "imgs" / "bad.png").write_bytes(b"GIF89a broken")
    return tmp_path / "imgs"


def invoke(*args: str):
    """Run the CLI in-process."""
    return CliRunner().invoke(cli.main, list(args))


def test_batch_stores_palettes_and_prints_a_summary(collection, tmp_path):
    """Batch stores the good images, records the bad one, prints its reason and exits 1."""
    db = tmp_path / "p.sqlite"

    result = invoke("batch", str(collection), "-k", "2", "--db", str(db), "--workers", "1")

    lines = result.stdout.splitlines()
    assert result.exit_code == 1
    assert re.fullmatch(
        rf"2 done, 0 skipped, 1 failed in [\d.]+ s \([\d.]+ images/s\) -> {re.escape(str(db))}",
        lines[0],
    )
    assert lines[1] == "First failures:"
    assert lines[2].startswith(f"  {collection / 'bad.png'}: ")
    assert rows_per_image(db) == {
        str(collection / "green.png"): [1],
        str(collection / "pink.png"): [1, 2],
    }


def test_second_batch_skips_everything_done(collection, tmp_path):
    """Running the same batch again extracts nothing new and exits 0 without failures."""
    db = tmp_path / "p.sqlite"
    invoke("batch", str(collection / "pink.png"), "--db", str(db), "--workers", "1")

    result = invoke("batch", str(collection / "pink.png"), "--db", str(db), "--workers", "1")

    assert result.exit_code == 0
    assert result.stdout.startswith("0 done, 1 skipped, 0 failed in ")


def test_export_writes_each_format(collection, tmp_path):
    """Export writes CSV rows per colour, JSON Lines per image, and Parquet with the same rows."""
    db = tmp_path / "p.sqlite"
    invoke("batch", str(collection), "-k", "2", "--db", str(db), "--workers", "1")

    csv_result = invoke("export", "--db", str(db), "-o", str(tmp_path / "out.csv"))
    jsonl_result = invoke("export", "--db", str(db), "--format", "jsonl", "-o", "-")

    assert csv_result.exit_code == 0
    assert csv_result.stderr == f"Wrote 3 colours to {tmp_path / 'out.csv'}\n"
    csv_lines = (tmp_path / "out.csv").read_text().splitlines()
    assert len(csv_lines) == 4 and csv_lines[0].startswith("source,size,mtime_ns,k,space,options,")
    images = [json.loads(line) for line in jsonl_result.stdout.splitlines()]
    assert sorted((i["source"], [c["hex"] for c in i["colors"]]) for i in images) == [
        (str(collection / "green.png"), ["#00c800"]),
        (str(collection / "pink.png"), ["#203040", "#c1a4a9"]),
    ]


def test_parquet_export_and_its_missing_extra(collection, tmp_path, monkeypatch):
    """Export to .parquet writes every colour row; without pyarrow it is a one-line error."""
    pq = pytest.importorskip(
        "pyarrow.parquet", reason="pyarrow (the parquet extra) is not installed"
    )
    db = tmp_path / "p.sqlite"
    invoke("batch", str(collection), "-k", "2", "--db", str(db), "--workers", "1")

    assert invoke("export", "--db", str(db), "-o", str(tmp_path / "out.parquet")).exit_code == 0
    hexes = pq.read_table(tmp_path / "out.parquet").column("hex").to_pylist()
    assert sorted(hexes) == ["#00c800", "#203040", "#c1a4a9"]

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    result = invoke("export", "--db", str(db), "-o", str(tmp_path / "again.parquet"))
    assert (result.exit_code, result.output) == (
        1,
        "Error: Parquet export needs pyarrow: pip install 'chromapal[parquet]'\n",
    )


def test_search_prints_a_table_and_json(collection, tmp_path):
    """The search command lists the image holding the colour, as a table or as JSON."""
    db = tmp_path / "p.sqlite"
    invoke("batch", str(collection), "-k", "2", "--db", str(db), "--workers", "1")

    table = invoke("search", "--db", str(db), "--color", "#c1a4a9")
    as_json = invoke("search", "--db", str(db), "--color", "c3a6aa", "--max-delta-e", "5", "--json")

    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split() == ["ΔE", "share", "colour", "rank", "k", "options", "image"]
    assert table.stdout.splitlines()[1].split() == [
        "0.00",
        "50.0%",
        "#c1a4a9",
        "2",
        "2",
        "-",
        str(collection / "pink.png"),
    ]
    assert [(m["source"], m["hex"], m["rank"]) for m in json.loads(as_json.stdout)] == [
        (str(collection / "pink.png"), "#c1a4a9", 2)
    ]


def test_search_and_export_need_an_existing_database(tmp_path):
    """A missing database is a one-line error with exit status 1, and no file is created."""
    db = tmp_path / "none.sqlite"
    expected = f"Error: {db}: no such database; create one with `chromapal batch --db {db}`\n"

    for args in (
        ["search", "--db", str(db), "--color", "#fff"],
        ["export", "--db", str(db), "-o", "-"],
    ):
        result = invoke(*args)
        assert (result.exit_code, result.output) == (1, expected)
    assert not db.exists()


def test_bad_colour_and_unknown_format_are_usage_errors(tmp_path):
    """A malformed --color and an unknown export type exit 2 with one line naming the problem."""
    PaletteStore(tmp_path / "p.sqlite").close()
    bad_color = invoke("search", "--db", str(tmp_path / "p.sqlite"), "--color", "pinkish")
    bad_format = invoke(
        "export", "--db", str(tmp_path / "p.sqlite"), "-o", str(tmp_path / "out.xml")
    )

    assert bad_color.exit_code == 2
    assert bad_color.output == (
        "Error: Invalid value for '--color' / '--colour': 'pinkish' is not a colour; "
        "expected a CSS colour name like 'white' or a hex code like '#f0f0f0'\n"
    )
    assert bad_format.exit_code == 2
    assert bad_format.output == (
        f"Error: cannot tell the format of {str(tmp_path / 'out.xml')!r}; "
        "give --format (csv, jsonl, parquet)\n"
    )


def test_missing_dask_is_a_one_line_error(tmp_path, monkeypatch):
    """Without dask installed, --scheduler fails with one line telling how to install it."""
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "a.png")

    db = str(tmp_path / "p.sqlite")

    result = invoke(
        "batch", str(tmp_path / "a.png"), "--db", db, "--scheduler", "tcp://127.0.0.1:1"
    )

    assert result.exit_code == 1
    assert result.output == (
        "Error: --scheduler needs Dask: pip install 'chromapal[dask]' (dask[distributed])\n"
    )


@pytest.mark.slow
def test_kill_9_midway_then_rerun_gives_one_complete_row_set_per_image(tmp_path):
    """A batch killed with SIGKILL midway, then rerun, holds each image once, all its colours."""
    paths = write_noise(tmp_path / "noise", 24)
    db = tmp_path / "p.sqlite"
    proc = start_batch(tmp_path / "noise", db)
    try:
        wait_for_rows(db, 3)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    stored_before = stored_count(db)
    assert 3 <= stored_before < len(paths), "the kill must land in the middle of the batch"

    rerun = subprocess.run(
        [*CHROMAPAL, "batch", str(tmp_path / "noise"), "-k", "4", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout.startswith(
        f"{len(paths) - stored_before} done, {stored_before} skipped, 0 failed"
    )
    assert rows_per_image(db) == {str(p): [1, 2, 3, 4] for p in paths}
    con = sqlite3.connect(db)
    first = con.execute(
        "SELECT hex FROM colors c JOIN images i ON i.id = c.image_id WHERE i.source = ? "
        "ORDER BY rank",
        (str(paths[0]),),
    ).fetchall()
    assert [h for (h,) in first] == extract(paths[0], k=4).hex


@pytest.mark.slow
def test_ctrl_c_finishes_current_writes_and_prints_the_summary(tmp_path):
    """Ctrl-C stops a pooled batch cleanly: exit 130, an "Interrupted" summary, whole palettes."""
    # large enough that the first grouped commit (after 0.25 s) comes well before the end
    paths = write_noise(tmp_path / "noise", 60, side=400)
    db = tmp_path / "p.sqlite"
    proc = start_batch(tmp_path / "noise", db, workers=2)
    wait_for_rows(db, 2)
    os.killpg(proc.pid, signal.SIGINT)  # like Ctrl-C in a terminal: the pool workers get it too
    out, err = proc.communicate(timeout=60)

    assert proc.returncode == 130, err
    summary = out.decode().splitlines()
    n = stored_count(db)
    assert summary[0].startswith(f"Interrupted: {n} done, 0 skipped, 0 failed in ")
    assert summary[1] == f"{len(paths) - n} not started; run the same command again to continue"
    assert all(ranks == [1, 2, 3, 4] for ranks in rows_per_image(db).values())
    assert n < len(paths)


# -- limits: parent death, foreign databases, partial files, closed pipes, deadlines ------------


def session_processes(session: int) -> list[int]:
    """Live (non-zombie) processes of a session: a batch started with start_new_session."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError, IndexError):
            continue
        if int(fields[3]) == session and fields[0] != "Z":
            found.append(int(entry.name))
    return found


@pytest.mark.slow
def test_pool_workers_exit_within_seconds_of_a_kill_9_of_the_batch(tmp_path):
    """kill -9 of `chromapal batch` (only that process): its workers are gone within 5 s."""
    write_noise(tmp_path / "noise", 24)
    db = tmp_path / "p.sqlite"
    proc = start_batch(tmp_path / "noise", db, workers=2)
    try:
        wait_for_rows(db, 2)
        helpers = [p for p in session_processes(proc.pid) if p != proc.pid]
        assert len(helpers) >= 2, "the pool's workers should be running"
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # the batch alone, as the OOM killer would
        proc.wait()

    deadline = time.monotonic() + 5
    while session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    left = session_processes(proc.pid)
    for pid in left:  # do not leave them running if the test fails
        os.kill(pid, signal.SIGKILL)
    assert left == []


@pytest.fixture
def foreign_db(tmp_path):
    """Another program's SQLite file (rollback journal, its own tables) and its SHA-256."""
    path = tmp_path / "contacts.sqlite"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE contacts (name TEXT, email TEXT)")
    con.execute("INSERT INTO contacts VALUES ('Ada', 'ada@example.org')")
    con.commit()
    con.close()
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def test_another_programs_database_is_refused_and_left_unchanged(collection, foreign_db):
    """batch, export and search refuse a database with foreign tables; the file is untouched."""
    path, digest = foreign_db
    for args in (
        ["batch", str(collection), "--db", str(path), "--workers", "1"],
        ["export", "--db", str(path), "--format", "csv", "-o", "-"],
        ["search", "--db", str(path), "--color", "#fff"],
    ):
        result = invoke(*args)
        assert (result.exit_code, result.stdout) == (1, ""), args
        assert result.stderr == (
            f"Error: {path}: not a chromapal database (it holds other tables: contacts); "
            "left unchanged, give another --db\n"
        )
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith("contacts")) == [
        "contacts.sqlite"  # no -wal or -shm file: the journal mode was not switched
    ]
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    con.close()


def test_a_failed_export_leaves_no_partial_file(collection, tmp_path, monkeypatch):
    """The disk fills up midway: exit 1, no file under the name, an older export kept whole."""
    db = tmp_path / "p.sqlite"
    invoke("batch", str(collection), "-k", "2", "--db", str(db), "--workers", "1")
    old = tmp_path / "old.csv"
    old.write_text("the previous export\n")
    real_rows = store_export.flat_rows

    def rows_then_disk_full(store, *args):
        rows = real_rows(store, *args)
        try:
            yield next(rows)
            raise OSError(errno.ENOSPC, "No space left on device")
        finally:
            rows.close()

    monkeypatch.setattr(store_export, "flat_rows", rows_then_disk_full)
    for name in ("new.csv", "new.jsonl", "old.csv"):
        result = invoke("export", "--db", str(db), "-o", str(tmp_path / name))
        assert (result.exit_code, result.stderr) == (
            1,
            f"Error: {tmp_path / name}: cannot write (No space left on device)\n",
        )
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith((".", "new"))] == []
    assert old.read_text() == "the previous export\n"


def run_into_closed_pipe(*args: str) -> subprocess.CompletedProcess[bytes]:
    """Run chromapal with a standard output whose reader has gone (like `| head -1`)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [*CHROMAPAL, *args], stdout=write_end, stderr=subprocess.PIPE, timeout=120, check=False
        )
    finally:
        os.close(write_end)


@pytest.mark.slow
def test_batch_and_export_into_a_closed_pipe_end_quietly(collection, tmp_path):
    """`batch … | head -1` and `export -o - | head -1`: no message, status 141, nothing lost."""
    db = tmp_path / "p.sqlite"
    batch = run_into_closed_pipe(
        "batch", str(collection / "pink.png"), str(collection / "green.png"), "--db", str(db),
        "--workers", "2", "--no-progress",
    )
    export = run_into_closed_pipe("export", "--db", str(db), "--format", "csv", "-o", "-")
    head = subprocess.run(
        " ".join([*CHROMAPAL, "export", "--db", str(db), "--format", "jsonl", "-o", "-", "| head -1"]),
        shell=True, capture_output=True, timeout=120, check=False,
    )

    assert (batch.returncode, batch.stderr) == (141, b"")
    assert (export.returncode, export.stderr) == (141, b"")
    assert head.returncode == 0 and head.stderr == b"" and head.stdout.count(b"\n") == 1
    assert rows_per_image(db) == {
        str(collection / "green.png"): [1],
        str(collection / "pink.png"): [1, 2],
    }


def test_batch_timeout_option_reaches_the_pool(collection, tmp_path, http_server):
    """`batch --timeout 1` with a server that never answers: that image failed, the rest stored."""
    db = tmp_path / "p.sqlite"
    started = time.monotonic()
    result = invoke(
        "batch", f"{http_server}/silent", str(collection / "pink.png"), "--db", str(db),
        "--workers", "1", "--timeout", "1", "--no-progress",
    )

    assert time.monotonic() - started < 10
    assert result.exit_code == 1
    assert result.stdout.startswith("1 done, 0 skipped, 1 failed in ")
    assert f"  {http_server}/silent: " in result.stdout
