"""Batch throughput against decode-only throughput on the same files and cores; the writer's rate.

    .venv/bin/python benchmarks/bench_batch.py [--set kodak|cq100|large|art | --images DIR]
        [--copies 3] [-k 8 | -k 1-10] [--workers 1 2] [--repeats 3]

The images of the set (PNG and JPEG) are linked `--copies` times into a temporary folder.
For each worker count, three things are timed on those files, interleaved and repeated
`--repeats` times (the best of each is kept, so a busy machine's slow rounds drop out):

- batch: `run_batch` into a fresh database (writer, deadline, worker pool, everything);
- decode: the same files only decoded (`load_image` with the batch's options) in the same
  kind of `WorkerPool`;
- work: decoded and extracted without the database (`chromapal.batch_worker.process`).

A warm-up run first starts the pool's fork server, so no timing pays for it. Then, in
this process, the CPU time (`time.process_time`) of decoding and of extracting each
image: the palette stage's cost against decoding's, and the best batch ÷ decode any batch
could reach (decode ÷ (decode + palette)). Last, the writer alone: palettes per second
into a fresh database from synthetic 8-colour records, grouped (`StoreWriter`, as a batch
writes) and one transaction per palette (`PaletteStore.add_palette`).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from chromapal.batch import BatchOptions, expand_inputs, run_batch
from chromapal.batch_worker import process
from chromapal.load import DRAFT_ABOVE, load_image
from chromapal.many import many_from_pixels
from chromapal.store import PaletteStore
from chromapal.workers import WorkerPool

SHARED = Path(__file__).resolve().parents[2] / "shared" / "images"
PATTERNS = ("*.png", "*.jpg", "*.jpeg")


def tree_cpu() -> float:
    """CPU seconds of this process (all threads) and of the pool workers that have ended.

    Pool workers are children of multiprocessing's fork server, which reaps them: their
    CPU time shows in its children's times (``/proc/PID/stat`` cutime + cstime) once they
    have exited, which every pool's `close` makes them do.
    """
    from multiprocessing import forkserver

    pid = forkserver._forkserver._forkserver_pid  # noqa: SLF001 - the one way to find it
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return time.process_time() + (int(fields[13]) + int(fields[14])) / os.sysconf("SC_CLK_TCK")


def measured(n: int, func, *args) -> tuple[float, float]:
    """(images/s, CPU ms per image) of ``func(*args)``, which returns the images/s of `n` images."""
    c0 = tree_cpu()
    rate = func(*args)
    time.sleep(0.2)  # the fork server reaps the workers the pool just killed
    return rate, (tree_cpu() - c0) * 1000 / n


def decode_only(source: str) -> int:
    """Decode one file as a batch worker does (draft mode on), return its pixel count."""
    loaded = load_image(source, draft_above=DRAFT_ABOVE)
    return int(loaded.pixels.shape[0] * loaded.pixels.shape[1])


def pool_rate(workers: int, func, sources: list[str], *args) -> float:
    """Images per second of `func(source, *args)` over `sources` on a `WorkerPool`.

    Set up as the batch sets up its pool (with a worker per core, kernels on one thread each).
    """
    from concurrent.futures import FIRST_COMPLETED, wait

    try:
        from chromapal.batch_worker import one_thread_kernels
    except ImportError:  # an older chromapal, for a before/after comparison
        one_thread_kernels = None
    busy = workers >= (os.cpu_count() or 1)
    todo = iter(sources)
    pending = set()
    t0 = time.perf_counter()
    with WorkerPool(workers, initializer=one_thread_kernels if busy else None) as pool:
        while True:
            while len(pending) < workers and (source := next(todo, None)) is not None:
                pending.add(pool.submit(func, source, *args, timeout=60))
            if not pending:
                break
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
    return len(sources) / (time.perf_counter() - t0)


def batch_rate(workers: int, sources: list[str], runs: list[BatchOptions], db: Path, per_k: bool = False) -> float:
    """Images per second of a whole `run_batch` into a fresh database at `db`."""
    db.unlink(missing_ok=True)
    with PaletteStore(db) as store:
        t0 = time.perf_counter()
        if len(runs) == 1 or per_k:  # per_k: a run per k, as batch -k 1-10 did before one run took them all
            summaries = [run_batch(sources, store, run, workers=workers) for run in runs]
        else:
            summaries = [run_batch(sources, store, runs, workers=workers)]
        seconds = time.perf_counter() - t0
    assert sum(s.failed for s in summaries) == 0, summaries
    assert sum(s.done for s in summaries) == len(sources) * len(runs), summaries
    return len(sources) / seconds


def stage_cpu(originals: list[Path], ks: list[int]) -> tuple[float, float]:
    """CPU ms per image (this process) of decoding and of the palette stage (all `ks`, delta_e on).

    The kernels run on one thread, as in a batch with a worker per core.
    """
    try:
        from chromapal import _kernels

        _kernels.set_threads(1)
    except (ImportError, AttributeError):
        pass
    decode = palette = 0.0
    for path in originals:
        c0 = time.process_time()
        loaded = load_image(str(path), draft_above=DRAFT_ABOVE)
        c1 = time.process_time()
        many_from_pixels(loaded.pixels, ks, delta_e=True)
        c2 = time.process_time()
        decode += c1 - c0
        palette += c2 - c1
    return decode * 1000 / len(originals), palette * 1000 / len(originals)


def synthetic_records(n: int) -> list[dict]:
    """`n` worker records of 8 random colours each."""
    rng = np.random.default_rng(0)
    return [
        {"source": f"/synthetic/{i}.png", "size": 1, "mtime_ns": 1,
         "colors": rng.integers(0, 256, (8, 3)).tolist(),
         "shares": (np.sort(rng.dirichlet(np.ones(8)))[::-1]).tolist(), "k": 8, "delta_e": 3.0}
        for i in range(n)
    ]


def writer_rates(folder: Path, n: int = 5000) -> tuple[float, float, float, float]:
    """Palettes/s grouped (StoreWriter) and one per transaction (add_palette); wall and CPU."""
    records = synthetic_records(n)
    out = []
    for grouped in (True, False):
        if grouped and not hasattr(PaletteStore, "writer"):  # an older chromapal
            out += [float("nan"), float("nan")]
            continue
        with PaletteStore(folder / f"writer-{grouped}.sqlite") as db:
            t0, c0 = time.perf_counter(), time.process_time()
            if grouped:
                with db.writer() as writer:
                    for record in records:
                        writer.add_palette(record, '{"k":8}')
            else:
                for record in records:
                    db.add_palette(record, '{"k":8}')
            out += [n / (time.perf_counter() - t0), n / (time.process_time() - c0)]
            assert db.count("images") == n
    return out[0], out[1], out[2], out[3]


def parse_ks(text: str) -> list[int]:
    """``8`` -> [8]; ``1-10`` -> [1, ..., 10]."""
    low, _, high = text.partition("-")
    return list(range(int(low), int(high or low) + 1))


def main() -> None:
    """Time batch, decode-only and work for each worker count; print a table and the writer's rate."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--set", default="kodak", help="a folder of ../shared/images")
    parser.add_argument("--images", type=Path, default=None, help="any folder of images instead")
    parser.add_argument("--copies", type=int, default=3)
    parser.add_argument("-k", default="8", help="k, or a range such as 1-10")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="*", default=None,
                        help="worker counts to time (default: 1 and all cores)")
    parser.add_argument("--no-writer", action="store_true", help="skip the writer-alone timing")
    parser.add_argument("--per-k", action="store_true", help="a k range as one run per k (decoding per k)")
    args = parser.parse_args()
    folder_in = args.images or SHARED / args.set
    originals = sorted(p for pattern in PATTERNS for p in folder_in.glob(pattern))
    if not originals:
        raise SystemExit(f"no PNG or JPEG images in {folder_in}")
    ks = parse_ks(args.k)
    runs = [BatchOptions(k=k) for k in ks]
    cores = os.cpu_count() or 1
    counts = args.workers or sorted({1, cores})
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        for copy in range(args.copies):
            (folder / f"copy{copy:03d}").mkdir(parents=True)
            for image in originals:
                os.symlink(image, folder / f"copy{copy:03d}" / image.name)
        sources = expand_inputs([str(folder)])
        print(f"{len(sources)} files ({len(originals)} images of {folder_in.name} x {args.copies}), "
              f"k={args.k}, {cores} cores, best of {args.repeats}, load {os.getloadavg()[0]:.1f}\n")
        pool_rate(1, decode_only, sources[:4])  # warm-up: the fork server starts here
        print(f"{'workers':>7} {'batch/s':>8} {'decode/s':>9} {'work/s':>8} {'batch/decode':>12} "
              f"{'batch/work':>10} | CPU ms/image: {'batch':>6} {'decode':>6} {'work':>6} {'batch/decode':>12}")
        options = runs[0].as_dict()
        work_args = (options, 30.0) if len(ks) == 1 else (options, 30.0, None, ks)
        for workers in counts:
            rate = {"batch": 0.0, "decode": 0.0, "work": 0.0}
            cpu = {"batch": float("inf"), "decode": float("inf"), "work": float("inf")}
            for _ in range(args.repeats):
                for name, func, func_args in (
                    ("batch", batch_rate, (workers, sources, runs, Path(tmp) / "b.sqlite", args.per_k)),
                    ("decode", pool_rate, (workers, decode_only, sources)),
                    ("work", pool_rate, (workers, process, sources, *work_args)),
                ):
                    r, c = measured(len(sources), func, *func_args)
                    rate[name], cpu[name] = max(rate[name], r), min(cpu[name], c)
            print(f"{workers:>7} {rate['batch']:>8.1f} {rate['decode']:>9.1f} {rate['work']:>8.1f} "
                  f"{rate['batch'] / rate['decode']:>12.0%} {rate['batch'] / rate['work']:>10.0%} | "
                  f"{'':>13} {cpu['batch']:>6.1f} {cpu['decode']:>6.1f} {cpu['work']:>6.1f} "
                  f"{cpu['decode'] / cpu['batch']:>12.0%}", flush=True)
        decode_ms, palette_ms = stage_cpu(originals, ks)
        print(f"\nCPU per image in one process: decode {decode_ms:.1f} ms, palette stage "
              f"{palette_ms:.1f} ms ({palette_ms / decode_ms:.0%} of decode); best batch/decode "
              f"possible: {decode_ms / (decode_ms + palette_ms):.0%}")
        if not args.no_writer:
            g_wall, g_cpu, one_wall, one_cpu = writer_rates(Path(tmp))
            print(f"writer alone: grouped {g_wall:,.0f} palettes/s ({g_cpu:,.0f}/s of CPU), "
                  f"one transaction each {one_wall:,.0f} palettes/s ({one_cpu:,.0f}/s of CPU)")


if __name__ == "__main__":
    main()
