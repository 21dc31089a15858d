"""How distinct and how faithful terminal themes are over the shared images.

For every image of ../shared/images (kodak, art, large, cq100; palettes as in
tests/test_theme_readability.py: a 160 px thumbnail, k = 8 for the theme, k = 16 to
measure against) and each mode (dark, dark --strict, light, light --strict) it reports:

* pairs of images whose theme backgrounds are closer than CIEDE2000 3, and how many of
  those pairs have darkest (lightest, for light themes) dominant colours 3 or more apart;
* mean CIEDE2000 from the background and from colours 1-6 to the nearest k = 16 colour;
* themes breaking any promise of tests/theme_checks.py.

Run: ``.venv/bin/python benchmarks/bench_theme_backgrounds.py [--sets kodak,art,large,cq100] [-v]``;
``--rev REV`` measures ``src/chromapal/theme.py`` as it was at git revision REV instead (with
today's palettes and other modules), for before/after tables.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from test_theme_readability import palettes, shared_images  # noqa: E402
from theme_checks import delta_e, violations  # noqa: E402

from chromapal.theme import background_source, make_theme  # noqa: E402
from chromapal.theme_fit import lch  # noqa: E402

MODES = {"dark": (False, False), "dark strict": (False, True), "light": (True, False), "light strict": (True, True)}
CLOSE = 3.0


def theme_at(rev: str):
    """``make_theme`` from ``src/chromapal/theme.py`` as it was at git revision `rev`."""
    text = subprocess.run(
        ["git", "show", f"{rev}:src/chromapal/theme.py"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout
    path = Path(tempfile.mkdtemp()) / "theme_at_rev.py"
    path.write_text(text)
    spec = importlib.util.spec_from_file_location("chromapal._theme_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module.make_theme


def main() -> None:
    """Print the table (and, with -v, the pairs) for each mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="kodak,art,large,cq100")
    parser.add_argument("-v", "--verbose", action="store_true", help="list the offending pairs")
    parser.add_argument("--rev", help="measure theme.py as it was at this git revision")
    args = parser.parse_args()
    make = theme_at(args.rev) if args.rev else make_theme
    paths = shared_images(*args.sets.split(","))
    pals = {f"{p.parent.name}/{p.name}": palettes(p) for p in paths}
    n = len(pals)
    print(f"theme.py at {args.rev or 'the working tree'}")
    print(f"{n} images ({args.sets}); {n * (n - 1) // 2} pairs; background pairs closer than dE2000 {CLOSE}")
    print(f"{'mode':<13} {'close':>5} {'wrong':>5} {'bg dE':>6} {'1-6 dE':>6} {'broken':>6} {'cpu s':>6}")
    for mode, (light, strict) in MODES.items():
        start = time.process_time()
        themes = {k: make(p8, light=light, strict=strict) for k, (p8, _) in pals.items()}
        cpu = time.process_time() - start
        refs = {}
        for k, (p8, _) in pals.items():
            i = background_source(lch(p8.colors), np.asarray(p8.proportions), light=light)
            refs[k] = tuple(int(v) for v in p8.colors[i])
        close = [
            (a, b)
            for a, b in itertools.combinations(themes, 2)
            if delta_e(themes[a].background, themes[b].background) < CLOSE
        ]
        wrong = [(a, b) for a, b in close if delta_e(refs[a], refs[b]) >= CLOSE]
        near = lambda c, pal: min(delta_e(c, tuple(int(v) for v in x)) for x in pal.colors)  # noqa: E731
        bg = np.mean([near(t.background, pals[k][1]) for k, t in themes.items()])
        slots = np.mean([np.mean([near(t.ansi[s], pals[k][1]) for s in range(1, 7)]) for k, t in themes.items()])
        broken = sum(bool(violations(t, strict=strict)) for t in themes.values())
        print(f"{mode:<13} {len(close):>5} {len(wrong):>5} {bg:6.2f} {slots:6.2f} {broken:>6} {cpu:6.2f}")
        if args.verbose:
            for a, b in wrong:
                ta, tb = themes[a].background, themes[b].background
                print(
                    f"    {a} {refs[a]} -> {ta}   {b} {refs[b]} -> {tb}"
                    f"   bg dE {delta_e(ta, tb):.2f}, image dE {delta_e(refs[a], refs[b]):.2f}"
                )


if __name__ == "__main__":
    main()
