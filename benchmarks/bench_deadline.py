"""What the per-image deadline costs: a forked child per image, and a worker pool.

    .venv/bin/python benchmarks/bench_deadline.py [--runs 25] [--image PATH]

1. `palette_for` of one image in a fresh process, in-process vs. under a deadline
   (`run_with_deadline` forks a child): the cost the command line would pay per image.
2. The whole command, ``chromapal IMAGE`` vs. ``chromapal IMAGE --timeout 30``, next to
   ``python -c "import numpy, PIL.Image"`` (wall and CPU time of the process tree).
3. `WorkerPool`: first call (fork server start), a call, replacing a killed worker.

Runs are interleaved so that load from other programs hits every variant alike.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

DEFAULT_IMAGE = Path(__file__).resolve().parents[1] / "tests" / "data" / "kodim23.png"

_ONE_CALL = """
import resource, time
import chromapal.cli.common as cli
def cpu():
    return sum(getattr(resource.getrusage(w), f) for w in (resource.RUSAGE_SELF,
               resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
t, c = time.perf_counter(), cpu()
cli.palette_for({image!r}, k=8, timeout={timeout})
print((time.perf_counter() - t) * 1000, (cpu() - c) * 1000)
"""


def _median_min(values: list[float]) -> str:
    return f"median {statistics.median(values):6.1f} ms, min {min(values):6.1f} ms"


def one_call(image: Path, runs: int) -> None:
    """Fresh processes: the extraction alone, inline and in a forked child."""
    results: dict[str, list[tuple[float, float]]] = {"None": [], "30": []}
    for _ in range(runs):
        for timeout, out in results.items():
            code = _ONE_CALL.format(image=str(image), timeout=timeout)
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
            wall, cpu = map(float, done.stdout.split())
            out.append((wall, cpu))
    for timeout, out in results.items():
        label = "in-process" if timeout == "None" else "forked child, 30 s deadline"
        print(f"  palette_for, {label:28s} wall {_median_min([w for w, _ in out])}; "
              f"cpu {_median_min([c for _, c in out])}")


def whole_command(image: Path, runs: int) -> None:
    """The command's wall and CPU time, with and without the deadline."""
    chromapal = [sys.executable, "-m", "chromapal"]
    commands = {
        'python -c "import numpy, PIL.Image"': [sys.executable, "-c", "import numpy, PIL.Image"],
        "chromapal IMAGE": [*chromapal, str(image)],
        "chromapal IMAGE --timeout 30": [*chromapal, str(image), "--timeout", "30"],
    }
    wall: dict[str, list[float]] = {k: [] for k in commands}
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    for _ in range(runs):
        for name, command in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
            wall[name].append((time.perf_counter() - started) * 1000)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append(
                (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000
            )
    for name in commands:
        print(f"  {name:38s} wall {_median_min(wall[name])}; cpu {_median_min(cpu[name])}")


def pool() -> None:
    """WorkerPool: start, a call, a kill and its replacement."""
    from chromapal.errors import ImageTimeoutError
    from chromapal.workers import WorkerPool

    with WorkerPool(1) as workers:
        started = time.perf_counter()
        workers.run(abs, -1, timeout=30)
        first = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(200):
            workers.run(abs, -1, timeout=30)
        call = (time.perf_counter() - started) / 200
        try:
            workers.run(time.sleep, 10, timeout=0.2)
        except ImageTimeoutError:
            pass
        started = time.perf_counter()
        workers.run(abs, -1, timeout=30)
        replaced = time.perf_counter() - started
    print(f"  WorkerPool: first call {first * 1000:.0f} ms (fork server start), a call "
          f"{call * 1000:.2f} ms, first call after a kill {replaced * 1000:.1f} ms")


def main() -> None:
    """Print the three measurements."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=25)
    parser.add_argument("--image", type=Path, default=DEFAULT_IMAGE)
    args = parser.parse_args()
    print(f"{args.image.name}, {args.runs} interleaved runs each")
    one_call(args.image, args.runs)
    whole_command(args.image, args.runs)
    pool()


if __name__ == "__main__":
    main()
