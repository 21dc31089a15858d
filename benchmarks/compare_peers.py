"""chromapal against the peers of the shared harness (../shared/bench), and the targets of issue 3.

    python benchmarks/compare_peers.py [--k 4 8 16] [--images ../shared/images] [--peers LIST]
                                       [--repeats 3] [--full-limit 1000000] [--out benchmarks/results]

Steps: make the harness's pinned venv if it is missing (its setup.sh), install this
checkout into it, run ``peers.py --py chromapal:extract --py pillow_decode:decode`` for
each k (chromapal in-process, timed exactly like the peers, next to Pillow's plain
decode of the same files), then write per k the harness's own tables
(``report.py``), a summary of the targets and a chart of ΔE2000 against time per peer.
Run nothing else on the machine meanwhile: times are wall-clock.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BENCH = REPO.parent / "shared" / "bench"
PY = BENCH / ".venv" / "bin" / "python"
OURS, DECODE = "py:chromapal:extract", "py:pillow_decode:decode"


def ensure_venv() -> None:
    """Create the harness venv when missing and install this checkout into it."""
    if not PY.exists():
        subprocess.run(["bash", str(BENCH / "setup.sh")], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(REPO)], check=True)
    subprocess.run([str(PY), "-m", "pip", "install", "--quiet", "deflate>=0.9"], check=True)  # chromapal's PNG path


def run(k: int, args: argparse.Namespace) -> Path:
    """Run the harness for one k; return its JSON."""
    out = args.out / f"peers_k{k}.json"
    cmd = [str(PY), str(BENCH / "peers.py"), "--k", str(k), "--repeats", str(args.repeats),
           "--full-limit", str(args.full_limit), "--py", "chromapal:extract", "--py", "pillow_decode:decode",
           "--out", str(out)]
    for spec in args.images:
        cmd += ["--images", spec]
    if args.peers:
        cmd += ["--peers", args.peers]
    env = dict(os.environ, PYTHONPATH=str(HERE))
    subprocess.run(cmd, check=True, env=env, cwd=BENCH)
    report = subprocess.run([str(PY), str(BENCH / "report.py"), str(out)], check=True, capture_output=True,
                            text=True, cwd=BENCH).stdout
    out.with_suffix(".txt").write_text(report)
    return out


def peer_name(result: dict, wanted: str) -> str:
    return next(n for n in result["peers"] if n == wanted or n.endswith(wanted.split(":", 1)[-1]))


def targets(path: Path) -> str:
    """The issue-3 checks for one results file, as Markdown."""
    result = json.loads(path.read_text())
    k = result["k"]
    ours, decode = peer_name(result, OURS), peer_name(result, DECODE)
    peers = [n for n in result["peers"] if n not in (ours, decode)]
    images = [img for img in result["images"] if img["peers"].get(ours, {}).get("status") == "ok"]
    de = lambda img, n: img["peers"][n]["quality"]["de2000"]  # noqa: E731
    ok = lambda img, n: img["peers"].get(n, {}).get("status") == "ok"  # noqa: E731
    # quality: peers that returned exactly k colours on every image
    full = [n for n in peers if all(ok(i, n) and i["peers"][n]["n_colours"] == k for i in images)]
    means = {n: statistics.fmean(de(i, n) for i in images) for n in full + [ours]}
    best = min(full, key=means.get)
    worst_img = max(images, key=lambda i: de(i, ours) / max(min(de(i, n) for n in full), 1e-3))
    worst = de(worst_img, ours) / max(min(de(worst_img, n) for n in full), 1e-3)
    over = sum(de(i, ours) > 1.02 * min(de(i, n) for n in full) for i in images)
    # speed: median time per image
    times = {n: statistics.median(i["peers"][n]["time"] for i in images if ok(i, n)) for n in peers + [ours]}
    timed_all = [n for n in peers if all(ok(i, n) for i in images)]
    fastest = min(timed_all, key=times.get)
    vs_decode = statistics.median(i["peers"][ours]["time"] / i["peers"][decode]["time"] for i in images)
    return "\n".join([
        f"### k = {k} ({len(images)} images)",
        "",
        "| target | measured | met |",
        "|---|---|---|",
        f"| mean ΔE2000 ≤ 0.95 × best peer's | {means[ours]:.3f} vs {best} {means[best]:.3f} = "
        f"{means[ours] / means[best]:.3f}× | {'yes' if means[ours] <= 0.95 * means[best] else 'no'} |",
        f"| no image worse than the best peer on it by > 2 % | worst {worst:.3f}× ({Path(worst_img['path']).name}); "
        f"{over} image(s) over | {'yes' if over == 0 else 'no'} |",
        f"| median time ≤ fastest peer's | {times[ours] * 1e3:.1f} ms vs {fastest} {times[fastest] * 1e3:.1f} ms | "
        f"{'yes' if times[ours] <= times[fastest] else 'no'} |",
        f"| time ≤ 1.3 × Pillow's plain decode (median of per-image ratios) | {vs_decode:.2f}× | "
        f"{'yes' if vs_decode <= 1.3 else 'no'} |",
        "",
    ])


def _key(path: str) -> str:
    """An image's folder and name: the same image in runs made from different directories."""
    return "/".join(Path(path).parts[-2:])


def merged_quality(path: Path, extra: list[Path]) -> tuple[dict, dict[str, dict[str, float]]]:
    """The results of `path` and, per image path, every peer's ΔE2000 from it and from the `extra` JSONs.

    Quality-only runs (``peers.py --repeats 1``) of the slow peers can so be added to a timing run;
    the peers are deterministic (OpenCV is not: its mean over the calls is taken, as the harness does).
    """
    result = json.loads(path.read_text())
    quality: dict[str, dict[str, float]] = {}
    for source in [result] + [json.loads(e.read_text()) for e in extra]:
        if source["k"] != result["k"]:
            continue
        for img in source["images"]:
            for name, r in img["peers"].items():
                if r.get("status") == "ok" and r.get("n_colours") == source["k"]:  # the first source wins
                    quality.setdefault(_key(img["path"]), {}).setdefault(name, r["quality"]["de2000"])
    return result, quality


def targets_per_set(path: Path, extra: list[Path]) -> str:
    """Issue 16's checks for one k, per image set (the images' folder), as Markdown."""
    result, quality = merged_quality(path, extra)
    k = result["k"]
    ours, decode = peer_name(result, OURS), peer_name(result, DECODE)
    ok = lambda img, n: img["peers"].get(n, {}).get("status") == "ok"  # noqa: E731
    lines = [f"### k = {k}", "",
             "| set | images | mean ΔE2000 vs best peer | worst image vs best peer on it | images over 1.02× | "
             "median ms (chromapal / Pillow decode / fastest peer) | median time ÷ decode | worst time ÷ decode | met |",
             "|---|---|---|---|---|---|---|---|---|"]
    by_set: dict[str, list[dict]] = {}
    for img in result["images"]:
        others = set(quality.get(_key(img["path"]), {})) - {ours, decode}
        if ok(img, ours) and others:  # images no quality peer has run on are left out
            by_set.setdefault(Path(img["path"]).parent.name, []).append(img)
    for name, images in by_set.items():
        q = [quality[_key(i["path"])] for i in images]
        peers = [n for n in set.intersection(*(set(x) for x in q)) if n not in (ours, decode)]
        means = {n: statistics.fmean(x[n] for x in q) for n in peers + [ours]}
        best = min(peers, key=means.get)
        ratio = [x[ours] / max(min(x[n] for n in peers), 1e-3) for x in q]
        worst = max(range(len(images)), key=ratio.__getitem__)
        quality_met = means[ours] <= 0.95 * means[best] and ratio[worst] <= 1.02
        row = (f"| {name} | {len(images)} | {means[ours]:.3f} vs {best} {means[best]:.3f} = "
               f"{means[ours] / means[best]:.3f}× | {ratio[worst]:.3f}× ({Path(images[worst]['path']).name}) "
               f"| {sum(r > 1.02 for r in ratio)} ")
        timed = [n for n in result["peers"] if n not in (ours, decode) and all(ok(i, n) for i in images)]
        if result.get("repeats", 0) < 2 or not timed or not all(ok(i, decode) for i in images):
            lines.append(row + f"| (not timed) | | | {'quality yes' if quality_met else 'no'} |")
            continue
        t = {n: statistics.median(i["peers"][n]["time"] for i in images) for n in timed + [ours, decode]}
        fastest = min(timed, key=t.get)
        per_decode = [i["peers"][ours]["time"] / i["peers"][decode]["time"] for i in images]
        met = quality_met and t[ours] <= t[decode] and t[ours] <= t[fastest] and max(per_decode) <= 2.0
        lines.append(
            row + f"| {t[ours] * 1e3:.1f} / {t[decode] * 1e3:.1f} / {t[fastest] * 1e3:.1f} ({fastest}) "
            f"| {statistics.median(per_decode):.2f}× | {max(per_decode):.2f}× "
            f"({Path(images[max(range(len(images)), key=per_decode.__getitem__)]['path']).name}) "
            f"| {'yes' if met else 'no'} |")
    return "\n".join(lines + [""])


def chart(paths: list[Path], png: Path) -> None:
    """ΔE2000 against median time per image, one panel per k."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(paths), figsize=(6 * len(paths), 5), squeeze=False)
    for ax, path in zip(axes[0], paths):
        result = json.loads(path.read_text())
        placed: list[tuple[float, float, str]] = []
        for n in result["peers"]:
            oks = [i["peers"][n] for i in result["images"] if i["peers"].get(n, {}).get("status") == "ok"]
            if len(oks) < len(result["images"]):
                continue  # skipped on some images: its median time would not be comparable
            t = statistics.median(p["time"] for p in oks) * 1e3
            if n.endswith("pillow_decode:decode"):
                ax.axvline(t, color="grey", linestyle="--", linewidth=1)
                ax.annotate("Pillow decode", (t, 0.02), xycoords=("data", "axes fraction"), rotation=90,
                            textcoords="offset points", xytext=(-10, 0), fontsize=8, color="grey")
                continue
            q = statistics.fmean(p["quality"]["de2000"] for p in oks)
            mine = n.endswith("chromapal:extract")
            exact_k = all(p["n_colours"] == result["k"] for p in oks)  # other counts: not like for like
            ax.scatter(t, q, s=80 if mine else 30, zorder=3,
                       c="#d62728" if mine else ("#1f77b4" if exact_k else "none"),
                       edgecolors="#d62728" if mine else "#1f77b4")
            label = "chromapal" if mine else n + ("" if exact_k else " (not k colours)")
            placed.append((t, q, label))
        # labels of points close together go above and below them, not on top of each other
        placed.sort()
        for i, (t, q, label) in enumerate(placed):
            near = sum(abs(math.log10(t / t2)) < 0.2 and abs(q - q2) < 0.15 for t2, q2, _ in placed[:i])
            ax.annotate(label, (t, q), textcoords="offset points", xytext=(5, (4, -11, 15, -22)[near % 4]), fontsize=7)
        ax.set_xscale("log")
        ax.margins(x=0.25)
        ax.set_xlabel("median time per image, ms (log)")
        ax.set_ylabel("mean ΔE2000 (lower is better)")
        ax.set_title(f"k = {result['k']}, {len(result['images'])} images")
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, nargs="+", default=[4, 8, 16])
    parser.add_argument("--images", action="append", default=None)
    parser.add_argument("--peers", default=None, help="comma-separated peers (default: all available)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--full-limit", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--report-only", action="store_true", help="only rebuild the summary from existing JSON")
    parser.add_argument("--quality-from", type=Path, nargs="*", default=[],
                        help="more results JSONs (e.g. quality-only runs of slow peers) whose ΔE2000 joins the per-set tables")
    args = parser.parse_args()
    args.images = [str(Path(x).resolve()) for x in args.images or [REPO.parent / "shared" / "images"]]
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.report_only:
        ensure_venv()
    paths = [args.out / f"peers_k{k}.json" if args.report_only else run(k, args) for k in args.k]
    summary = "\n".join(targets(p) for p in paths)
    summary += "\n## Per image set (issue 16)\n\n" + "\n".join(targets_per_set(p, args.quality_from) for p in paths)
    (args.out / "targets.md").write_text(summary)
    chart(paths, REPO / "docs" / "img" / "peers.png")
    print(summary)


if __name__ == "__main__":
    sys.exit(main())
