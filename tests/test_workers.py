"""chromapal.workers: deadlines kill and replace workers, errors cross, children die with parents."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import chromapal

from chromapal.errors import ImageTimeoutError, InvalidColorError, PaletteError
from chromapal.workers import (
    RemoteError,
    WorkerCrashedError,
    WorkerPool,
    WorkersBusyError,
    run_with_deadline,
)

#: Seconds a child may take to be gone after its parent was killed.
ORPHAN_GRACE = 5.0
#: Seconds a subprocess may take to start a pool and report its workers.
START_TIMEOUT = 60.0


# Module-level, so that pool workers can unpickle them.


def double(x: int) -> int:
    """Twice `x`."""
    return 2 * x


def my_pid() -> int:
    """The process id of whoever runs this."""
    return os.getpid()


def sleep_then(seconds: float, value: object = None) -> object:
    """Sleep, then return `value`."""
    time.sleep(seconds)
    return value


def spin(seconds: float) -> int:
    """Burn CPU in pure Python for `seconds` (a loop a signal handler cannot interrupt)."""
    end = time.monotonic() + seconds
    n = 0
    while time.monotonic() < end:
        n += 1
    return n


def raise_palette_error(text: str) -> None:
    """Raise a PaletteError subclass."""
    raise InvalidColorError(text)


def raise_key_error() -> None:
    """Raise a plain built-in exception."""
    raise KeyError("missing")


class Unpicklable(Exception):
    """An exception whose constructor needs two arguments: pickle cannot rebuild it."""

    def __init__(self, a: str, b: str) -> None:
        super().__init__(f"{a}+{b}")


def raise_unpicklable() -> None:
    """Raise an exception that cannot be rebuilt in the parent."""
    raise Unpicklable("a", "b")


def exit_now(code: int) -> None:
    """Leave the process at once, as a crashing C library would."""
    os._exit(code)


def segfault() -> None:
    """Die by SIGSEGV."""
    os.kill(os.getpid(), signal.SIGSEGV)
    time.sleep(10)


def write_to_fd2_and_warn() -> str:
    """Print to file descriptor 2 the way libtiff does, and raise a Python warning."""
    import warnings

    os.write(2, b"LZWDecode: Not enough data at scanline 0\n")
    warnings.warn("a decoder warning", stacklevel=1)
    return "quiet"


def record_pid_then_sleep(path: str, seconds: float) -> None:
    """Write this process's id to `path`, then sleep."""
    Path(path).write_text(str(os.getpid()))
    time.sleep(seconds)


def sigint_ignored() -> bool:
    """True if SIGINT is ignored in this process."""
    return signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def alive(pid: int) -> bool:
    """True if `pid` is a process that is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state != "Z"


def wait_gone(pids: list[int], seconds: float) -> list[int]:
    """Wait up to `seconds` for every pid to be gone; return those still alive."""
    deadline = time.monotonic() + seconds
    while (left := [p for p in pids if alive(p)]) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.fixture(scope="module")
def pool():
    """A two-worker pool shared by the tests of this module."""
    with WorkerPool(2) as shared:
        yield shared


# -- WorkerPool ---------------------------------------------------------------------------------


def test_pool_runs_calls_in_other_processes(pool):
    """Results come back; the work runs in a process other than this one."""
    assert pool.run(double, 21, timeout=10) == 42
    assert pool.run(my_pid, timeout=10) != os.getpid()


@pytest.mark.parametrize("func", [sleep_then, spin])
def test_a_call_past_its_deadline_is_killed_and_its_worker_replaced(pool, func):
    """Sleeping or spinning past the deadline: ImageTimeoutError, the process gone, pool usable."""
    before = {pool.run(my_pid, timeout=10) for _ in range(4)}
    started = time.monotonic()
    with pytest.raises(ImageTimeoutError, match=r"^took longer than 0\.5 s$"):
        pool.run(func, 30, timeout=0.5)
    assert time.monotonic() - started < 5

    assert pool.run(double, 2, timeout=10) == 4
    after = {pool.run(my_pid, timeout=10) for _ in range(4)}
    killed = before - after
    assert len(killed) == 1 and wait_gone(list(killed), ORPHAN_GRACE) == []


def test_exceptions_cross_with_their_type_and_message(pool):
    """A PaletteError subclass and a built-in exception arrive as themselves."""
    with pytest.raises(InvalidColorError, match="^not a colour$"):
        pool.run(raise_palette_error, "not a colour", timeout=10)
    with pytest.raises(KeyError, match="missing"):
        pool.run(raise_key_error, timeout=10)
    with pytest.raises(RemoteError, match="a\\+b"):
        pool.run(raise_unpicklable, timeout=10)
    assert pool.run(double, 5, timeout=10) == 10


@pytest.mark.parametrize(
    ("func", "args", "how"), [(exit_now, (3,), "exited with status 3"), (segfault, (), "SIGSEGV")]
)
def test_a_dead_worker_is_a_worker_crashed_error_and_is_replaced(pool, func, args, how):
    """os._exit and SIGSEGV in a worker: WorkerCrashedError saying how; the pool goes on."""
    with pytest.raises(WorkerCrashedError, match=how) as caught:
        pool.run(func, *args, timeout=10)

    assert isinstance(caught.value, PaletteError)
    assert pool.run(double, 3, timeout=10) == 6


def test_waiting_for_a_busy_pool_is_bounded():
    """With every worker busy, `wait` seconds later: WorkersBusyError."""
    with WorkerPool(1) as one:
        one.run(double, 1, timeout=30)  # started
        busy = threading.Thread(target=one.run, args=(sleep_then, 2), kwargs={"timeout": 30})
        busy.start()
        time.sleep(0.3)
        started = time.monotonic()
        with pytest.raises(WorkersBusyError, match="busy"):
            one.run(double, 1, timeout=30, wait=0.3)
        assert 0.25 < time.monotonic() - started < 2
        busy.join()
        assert one.run(double, 4, timeout=30, wait=5) == 8


def test_threads_share_the_pool_safely(pool):
    """Many threads calling at once each get their own answer."""
    results: dict[int, int] = {}

    def call(i: int) -> None:
        results[i] = pool.run(sleep_then, 0.01, i, timeout=30)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: i for i in range(16)}


def test_submit_returns_futures_with_the_same_semantics(pool):
    """submit() gives Futures: a result, or the deadline's ImageTimeoutError."""
    good = pool.submit(double, 7, timeout=10)
    slow = pool.submit(sleep_then, 30, timeout=0.3)

    assert good.result(timeout=30) == 14
    with pytest.raises(ImageTimeoutError):
        slow.result(timeout=30)


def test_close_kills_busy_workers():
    """close() does not wait for a running call: its worker is killed."""
    one = WorkerPool(1)
    pid = one.run(my_pid, timeout=10)
    future = one.submit(sleep_then, 30, timeout=60)
    time.sleep(0.3)
    started = time.monotonic()
    one.close()

    with pytest.raises(WorkerCrashedError):
        future.result(timeout=10)
    assert time.monotonic() - started < 5
    assert wait_gone([pid], ORPHAN_GRACE) == []


def test_workers_are_quiet_and_ignore_ctrl_c(pool, capfd):
    """Nothing a decoder prints on fd 2 reaches the user; SIGINT is the parent's business."""
    assert pool.run(write_to_fd2_and_warn, timeout=10) == "quiet"
    assert pool.run(sigint_ignored, timeout=10) is True
    assert capfd.readouterr().err == ""


# -- run_with_deadline --------------------------------------------------------------------------


def test_run_with_deadline_returns_results_and_raises_errors():
    """One forked call: its result, its exception, a crash."""
    assert run_with_deadline(double, 8, timeout=10) == 16
    assert run_with_deadline(my_pid, timeout=10) != os.getpid()
    with pytest.raises(InvalidColorError, match="^bad$"):
        run_with_deadline(raise_palette_error, "bad", timeout=10)
    with pytest.raises(WorkerCrashedError, match="SIGSEGV"):
        run_with_deadline(segfault, timeout=10)
    assert run_with_deadline(sigint_ignored, timeout=10) is True


def test_run_with_deadline_kills_the_child_at_the_deadline(tmp_path):
    """Past the deadline the child is gone and ImageTimeoutError says how long it had."""
    pid_file = tmp_path / "pid"
    started = time.monotonic()
    with pytest.raises(ImageTimeoutError, match=r"^took longer than 0\.4 s$"):
        run_with_deadline(record_pid_then_sleep, str(pid_file), 30, timeout=0.4)

    assert time.monotonic() - started < 3
    assert not alive(int(pid_file.read_text()))


def test_run_with_deadline_child_is_quiet(capfd):
    """A forked child's writes to fd 2 and warnings are silenced too."""
    assert run_with_deadline(write_to_fd2_and_warn, timeout=10) == "quiet"
    assert capfd.readouterr().err == ""


# -- children die with their parent ------------------------------------------------------------

_ORPHAN_SCRIPT = textwrap.dedent(
    """
    import os, sys, threading, time
    sys.path.insert(0, {tests!r})
    from chromapal.workers import WorkerPool, run_with_deadline
    from test_workers import my_pid, record_pid_then_sleep

    def pid_in(path):
        while not os.path.exists(path) or not open(path).read():
            time.sleep(0.01)
        return int(open(path).read())

    pool = WorkerPool(2)
    pool.submit(record_pid_then_sleep, {busy!r}, 60, timeout=None)  # one worker busy...
    busy = pid_in({busy!r})
    idle = pool.run(my_pid, timeout=60)  # ...and one idle
    threading.Thread(
        target=run_with_deadline, args=(record_pid_then_sleep, {forked!r}, 60), kwargs={{"timeout": 60}}
    ).start()
    print(busy, idle, pid_in({forked!r}), flush=True)
    time.sleep(60)
    """
)


@pytest.mark.timeout(60)
def test_children_die_within_seconds_of_a_kill_9_of_their_parent(tmp_path):
    """kill -9 of a program with a busy and an idle pool worker and a forked child: none outlives it."""
    script = _ORPHAN_SCRIPT.format(
        tests=str(Path(__file__).parent), busy=str(tmp_path / "busy"), forked=str(tmp_path / "forked")
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stdout.readline()  # type: ignore[union-attr]  # '' if the script failed
        pids = [int(p) for p in line.split()]
        assert len(set(pids)) == 3 and all(alive(p) for p in pids)
    finally:
        proc.kill()
        _, err = proc.communicate(timeout=30)
    assert err == ""

    assert wait_gone(pids, ORPHAN_GRACE) == []


def test_importing_chromapal_starts_no_multiprocessing():
    """`import chromapal` stays light: no multiprocessing or concurrent.futures (imported on use)."""
    code = (
        "import sys, chromapal; "
        "print(sorted(m for m in ('multiprocessing', 'concurrent.futures', 'chromapal.workers') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert out.stdout.strip() == "[]"


# -- chromapal.extract(timeout=) ----------------------------------------------------------------


def test_extract_with_a_timeout_gives_the_same_palette(tmp_path):
    """Under a deadline the palette is the one extracted in-process (it crosses by pickle)."""
    path = Path(__file__).parent / "data" / "kodim23.png"

    inline = chromapal.extract(path, k=6)
    child = chromapal.extract(path, k=6, timeout=30)

    assert child.hex == inline.hex and child.proportions.tolist() == inline.proportions.tolist()
    assert (child.source, child.k, child.space, child.note) == (
        inline.source, inline.k, inline.space, inline.note
    )


def test_extract_from_a_stalled_stream_stops_at_the_deadline():
    """A file object whose read never returns: ImageTimeoutError naming it, after the deadline."""
    read_end, write_end = os.pipe()
    try:
        with os.fdopen(read_end, "rb") as stream:
            started = time.monotonic()
            with pytest.raises(ImageTimeoutError, match=r"^<file>: took longer than 0\.5 s$"):
                chromapal.extract(stream, timeout=0.5)
            assert time.monotonic() - started < 3
    finally:
        os.close(write_end)


@pytest.mark.parametrize("bad", [0, -1, float("nan"), float("inf")])
def test_extract_refuses_a_timeout_that_is_not_a_positive_number(bad):
    """timeout=0, negative, NaN or infinite is a ValueError, not a silent "no limit"."""
    with pytest.raises(ValueError, match="timeout must be a positive number of seconds"):
        chromapal.extract(np.zeros((2, 2, 3), np.uint8), timeout=bad)
