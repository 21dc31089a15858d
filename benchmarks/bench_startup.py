"""Start-up time of the command line, as ratios to ``python -c "import numpy, PIL.Image"``.

Every command is run as a fresh process, alternating with the reference so that both see
the same machine load; the figure is the median wall time over ``--repeats`` runs.

    .venv/bin/python benchmarks/bench_startup.py [--repeats 15] [--json results/startup.json]

Targets (issue 13): ``chromapal --help`` and ``chromapal SUBCOMMAND -h`` within 1.3x of the
reference, ``chromapal tests/data/kodim23.png`` within 2x.

Every run reads compiled bytecode, as an installed wheel (compiled at install time) does:
the runs get a private ``PYTHONPYCACHEPREFIX`` (filled by the warm-up runs) even when
``PYTHONDONTWRITEBYTECODE`` is set, which would otherwise make every run of an editable
install compile the package's ~30 modules again (about 100 ms, measured).
"""

from __future__ import annotations

import argparse
import atexit
import json
import statistics
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
REFERENCE = [sys.executable, "-c", "import numpy, PIL.Image"]
SUBCOMMANDS = ["swatch", "pies", "recolor", "sweep", "report", "theme", "batch", "export", "search", "serve"]
TARGET_HELP, TARGET_RUN = 1.3, 2.0


#: The runs' environment: bytecode written to and read from a private cache (see above).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = tempfile.mkdtemp(prefix="chromapal-bench-pycache-")
atexit.register(shutil.rmtree, ENV["PYTHONPYCACHEPREFIX"], ignore_errors=True)


def wall(command: list[str]) -> float:
    """Seconds one run of `command` takes, from exec to exit."""
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def measure(cases: dict[str, list[str]], repeats: int) -> dict[str, list[float]]:
    """Times of every case and of the reference, interleaved run by run."""
    times: dict[str, list[float]] = {"reference": [], **{name: [] for name in cases}}
    for command in [REFERENCE, *cases.values()]:  # warm the file and bytecode caches
        wall(command)
    for _ in range(repeats):
        for name, command in cases.items():
            times["reference"].append(wall(REFERENCE))
            times[name].append(wall(command))
    return times


def main() -> int:
    """Measure, print a table, and exit 1 if a target is missed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--json", type=Path, help="also write the raw times here")
    args = parser.parse_args()
    chromapal = str(BIN / "chromapal")
    cases = {"chromapal --help": [chromapal, "--help"]}
    cases.update({f"chromapal {sub} -h": [chromapal, sub, "-h"] for sub in SUBCOMMANDS})
    cases["chromapal tests/data/kodim23.png"] = [chromapal, "tests/data/kodim23.png"]
    times = measure(cases, args.repeats)
    reference = statistics.median(times["reference"])
    print(f'reference `python -c "import numpy, PIL.Image"`: {reference * 1000:.0f} ms (median of {len(times["reference"])}); '
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print("| command | median ms | ratio | target |\n|---|---:|---:|---:|")
    missed = 0
    for name in cases:
        median = statistics.median(times[name])
        target = TARGET_RUN if name.endswith(".png") else TARGET_HELP
        ratio = median / reference
        missed += ratio > target
        print(f"| `{name}` | {median * 1000:.0f} | {ratio:.2f}x | {target}x{'' if ratio <= target else ' (missed)'} |")
    if args.json:
        args.json.write_text(json.dumps(times, indent=1))
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
