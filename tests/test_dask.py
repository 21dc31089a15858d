"""A batch on a real Dask cluster (scheduler and two workers on 127.0.0.1) equals a local run."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from chromapal.batch import BatchOptions, expand_inputs, run_batch
from chromapal.store import PaletteStore

pytest.importorskip("distributed", reason="dask[distributed] (the dask extra) is not installed")

BIN = Path(sys.executable).parent
#: Seconds allowed for the scheduler and both workers to come up.
CLUSTER_TIMEOUT = 60.0


def free_port() -> int:
    """Return a loopback TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster():
    """Run `dask scheduler` and two one-thread `dask worker`s on loopback; always terminated."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [
        subprocess.Popen(
            [
                str(BIN / "dask"),
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-dashboard",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    ]
    try:
        for _ in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        str(BIN / "dask"),
                        "worker",
                        address,
                        "--nworkers",
                        "1",
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        from distributed import Client

        deadline = time.monotonic() + CLUSTER_TIMEOUT
        with Client(address, timeout="30s") as client:
            while len(client.scheduler_info()["workers"]) < 2:
                assert time.monotonic() < deadline, "the dask workers did not connect in time"
                time.sleep(0.2)
        yield address
    finally:
        _shutdown(address, procs)


def _shutdown(address: str, procs: list[subprocess.Popen[bytes]]) -> None:
    """Ask the scheduler to close itself and its workers, then terminate (or kill) what is left."""
    from distributed import Client

    try:
        with Client(address, timeout="5s") as client:
            client.shutdown()
    except Exception:  # noqa: BLE001 - the processes are terminated below anyway
        pass
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def rows(db: PaletteStore) -> dict[str, tuple]:
    """Map each source to (size, mtime, width, height, colours with rank, hex, Lab and share)."""
    return {
        i.source: (
            i.size,
            i.mtime_ns,
            i.width,
            i.height,
            [(c["rank"], c["hex"], c["lab"], c["share"]) for c in i.colors],
        )
        for i in db.images()
    }


@pytest.mark.slow
def test_dask_batch_equals_local_batch(cluster, tmp_path):
    """Every stored row of a run on the cluster equals the local run's, failures included."""
    rng = np.random.default_rng(3)
    for i in range(10):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(
            tmp_path / f"img{i}.png"
        )
    (tmp_path / "broken.png").write_bytes(b"\x89PNG broken")
    sources = expand_inputs([str(tmp_path)])
    options = BatchOptions(k=5)

    with (
        PaletteStore(tmp_path / "local.sqlite") as local,
        PaletteStore(tmp_path / "dask.sqlite") as remote,
    ):
        local_summary = run_batch(sources, local, options, workers=1)
        remote_summary = run_batch(sources, remote, options, scheduler=cluster)
        again = run_batch(sources, remote, options, scheduler=cluster)

        assert (
            (remote_summary.done, remote_summary.failed)
            == (local_summary.done, local_summary.failed)
            == (10, 1)
        )
        assert rows(remote) == rows(local)
        assert remote.failures() == local.failures()
        assert (again.done, again.skipped) == (0, 10)


def test_unreachable_scheduler_is_a_one_line_error(tmp_path, monkeypatch):
    """A scheduler address nobody answers on gives a PaletteError naming it."""
    from chromapal import batch
    from chromapal.errors import PaletteError

    monkeypatch.setattr(batch, "DASK_CONNECT_TIMEOUT", 1.0)
    address = f"tcp://127.0.0.1:{free_port()}"
    with (
        PaletteStore(tmp_path / "p.sqlite") as db,
        pytest.raises(PaletteError, match="cannot reach the Dask scheduler"),
    ):
        run_batch([str(tmp_path / "x.png")], db, BatchOptions(), scheduler=address)


@pytest.mark.slow
def test_batch_command_runs_on_the_cluster(cluster, tmp_path):
    """`chromapal batch --scheduler ADDRESS` stores the palettes and prints the usual summary."""
    from click.testing import CliRunner

    from chromapal import cli

    Image.fromarray(np.full((8, 8, 3), (10, 20, 30), np.uint8)).save(tmp_path / "flat.png")
    db = tmp_path / "p.sqlite"

    result = CliRunner().invoke(
        cli.main, ["batch", str(tmp_path), "-k", "2", "--db", str(db), "--scheduler", cluster]
    )

    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("1 done, 0 skipped, 0 failed in ")
    with PaletteStore(db, create=False) as store:
        assert [c["hex"] for i in store.images() for c in i.colors] == ["#0a141e"]
