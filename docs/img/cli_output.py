"""Render what `chromapal tests/data/kodim23.png` prints in a true-colour terminal to docs/img/cli.svg.

Runs the real command, with its console recording and colour switched on.

    .venv/bin/python docs/img/cli_output.py [-o FILE]
"""

import argparse
import os
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from chromapal import cli

HERE = Path(__file__).resolve().parent
parser = argparse.ArgumentParser(description="Draw the README's picture of the command's output.")
parser.add_argument("-o", "--output", type=Path, default=HERE / "cli.svg")
out = parser.parse_args().output.resolve()
console = Console(record=True, force_terminal=True, color_system="truecolor", width=92, highlight=False)
cli.Console = lambda **_: console  # the command prints through the recording console
cli.use_color = lambda stream=None: True
os.chdir(HERE.parent.parent)
console.print("$ chromapal tests/data/kodim23.png", style="bold")
result = CliRunner().invoke(cli.main, ["tests/data/kodim23.png"])
assert result.exit_code == 0, result.output
console.save_svg(str(out), title="chromapal")
