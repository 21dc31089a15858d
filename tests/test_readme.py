"""The README cannot go stale: every output it shows is what the command prints today, and
every picture is what its command draws today (``make docs`` regenerates both)."""

from __future__ import annotations

import importlib.util
import re
import shlex
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageSequence

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("readme_docs", ROOT / "docs" / "readme.py")
docs = importlib.util.module_from_spec(_spec)
sys.modules["readme_docs"] = docs
_spec.loader.exec_module(docs)

LINES = docs.README.read_text(encoding="utf-8").split("\n")
BLOCKS = docs.find_blocks(LINES)
OUTPUTS = [b for b in BLOCKS if b.kind != "picture"]
PICTURES = [b for b in BLOCKS if b.kind == "picture"]
#: A picture is stale when more than this share of its pixels differ (anti-aliasing of text
#: and pie edges by another matplotlib or FreeType stays below it; a moved colour does not).
STALE_SHARE = 0.02


def test_the_readme_marks_its_outputs_and_pictures():
    """The markers were found (a broken marker syntax would silently check nothing)."""
    assert len(OUTPUTS) >= 20
    assert len(PICTURES) >= 7
    shown = set(re.findall(r"\]\((docs/img/[^)]+)\)", "\n".join(LINES)))
    drawn = {_output_path(b.command) for b in PICTURES}
    assert shown - {"docs/img/peers.png", "docs/img/web.png"} <= drawn  # peers: benchmark chart; web: browser test


@pytest.mark.parametrize("block", OUTPUTS, ids=lambda b: f"line{b.line}")
def test_shown_output_is_what_the_command_prints(block):
    """Regenerate with `make docs` when this fails."""
    shown = LINES[block.start:block.end]
    assert docs.same(block, shown, docs.expected(block, LINES)), f"README.md:{block.line} is stale: run `make docs`"


def _output_path(command: str) -> str:
    words = shlex.split(command)
    return words[words.index("-o") + 1]


def _frames(path: Path) -> list[np.ndarray]:
    with Image.open(path) as im:
        return [np.asarray(frame.convert("RGBA")) for frame in ImageSequence.Iterator(im)]


@pytest.mark.parametrize("block", PICTURES, ids=lambda b: _output_path(b.command))
def test_shown_picture_is_what_the_command_draws(block, tmp_path):
    """Each picture is drawn again into a temporary folder and compared with the committed one."""
    committed = ROOT / _output_path(block.command)
    fresh = tmp_path / committed.name
    docs.run(block.command.replace(f"-o {_output_path(block.command)}", f"-o {fresh}"))
    if committed.suffix == ".svg":
        assert fresh.read_text() == committed.read_text(), f"{committed.name} is stale: run `make docs`"
        return
    old, new = _frames(committed), _frames(fresh)
    assert len(old) == len(new), f"{committed.name} is stale: run `make docs`"
    for a, b in zip(old, new, strict=True):
        assert a.shape == b.shape, f"{committed.name} is stale: run `make docs`"
        differing = np.any(np.abs(a.astype(int) - b.astype(int)) > 2, axis=2).mean()
        assert differing <= STALE_SHARE, f"{committed.name}: {differing:.1%} of pixels changed: run `make docs`"
