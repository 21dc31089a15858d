"""Regenerate, or check, every command output and picture that README.md shows.

The README marks what it shows with HTML comments (invisible on GitHub):

``<!-- output: CMD -->`` before a fenced block
    the block holds what ``CMD`` prints on standard output. ``<!-- output lines=N: CMD -->``
    keeps the first N lines and adds a line "…" when there were more.
``<!-- console -->`` before a fenced block
    every line starting with ``$ `` is a command; the lines after it, up to the next ``$ ``,
    are what it prints (standard output and error, as a terminal shows them).
    ``<!-- console: CMD -->`` runs ``CMD`` first, unseen (to start from a clean slate).
``timed`` after the kind (``<!-- console timed -->``)
    run times in the output ("0.4 s", "12.5 images/s") are compared as "N".
``<!-- picture -->`` before a fenced block, or ``<!-- picture: CMD -->``
    each line of the block (or ``CMD``) writes a picture the README shows: ``make docs`` runs
    them; the tests run them into a temporary folder and compare the pixels with the
    committed files.

Commands run with bash from the repository root, with the Python environment that runs this
script first on ``PATH``, ``NO_COLOR=1`` and an 100-column terminal width.

    python docs/readme.py            # rewrite README.md's outputs, redraw its pictures
    python docs/readme.py --check    # list the blocks whose output differs; exit 1 if any
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
_MARK = re.compile(r"^\s*<!-- (output|console|picture)(?: lines=(\d+))?( timed)?(?::\s*(.*?))? -->\s*$")
#: Run times in an output ("in 0.4 s", "12.5 images/s"): ``timed`` blocks compare them as "N".
_TIMES = re.compile(r"\d+(?:\.\d+)?(?= ?(?:s|ms|images/s)\b)")
_FENCE = re.compile(r"^(\s*)(```+)(.*)$")
MORE = "…"


@dataclass(frozen=True)
class Block:
    """One marked place of the README.

    ``start``/``end`` delimit the lines inside the fence (end exclusive); pictures have none.
    """

    kind: str  # "output", "console" or "picture"
    command: str
    line: int  # 1-based line number of the marker, for messages
    start: int = 0
    end: int = 0
    lines: int | None = None
    indent: str = ""
    timed: bool = False


def environment() -> dict[str, str]:
    """The environment commands run in: this interpreter's scripts first on PATH, no colour."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(NO_COLOR="1", COLUMNS="100", TERM="dumb", PYTHONIOENCODING="utf-8")
    env.pop("FORCE_COLOR", None)
    return env


def find_blocks(lines: list[str]) -> list[Block]:
    """Every marked block of the README `lines` (without line ends)."""
    blocks = []
    for i, text in enumerate(lines):
        mark = _MARK.match(text)
        if not mark:
            continue
        kind, count, timed, command = mark.group(1), mark.group(2), bool(mark.group(3)), (mark.group(4) or "").strip()
        if kind == "picture" and command:
            blocks.append(Block(kind, command, i + 1))
            continue
        fence = _FENCE.match(lines[i + 1]) if i + 1 < len(lines) else None
        if fence is None:
            raise ValueError(f"README.md:{i + 1}: a {kind} marker must be followed by a fenced block")
        indent, ticks = fence.group(1), fence.group(2)
        end = next(
            (j for j in range(i + 2, len(lines)) if lines[j].strip() == ticks), None
        )
        if end is None:
            raise ValueError(f"README.md:{i + 1}: the fenced block is not closed")
        if kind == "picture":
            for j in range(i + 2, end):
                if lines[j].strip():
                    blocks.append(Block(kind, lines[j].strip(), j + 1))
            continue
        blocks.append(Block(kind, command, i + 1, i + 2, end, int(count) if count else None, indent, timed))
    return blocks


def run(command: str, *, merge_stderr: bool = False, timeout: float = 300) -> str:
    """What `command` prints (stdout, or stdout and stderr together), run by bash at the root."""
    result = subprocess.run(
        ["bash", "-c", command], cwd=ROOT, env=environment(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        text=True, timeout=timeout,
    )
    if not merge_stderr and result.returncode != 0:
        raise RuntimeError(f"{command!r} exited {result.returncode}: {result.stderr.strip()}")
    return result.stdout


def _cut(text: str, lines: int | None) -> list[str]:
    out = text.rstrip("\n").split("\n") if text.strip() else []
    if lines is not None and len(out) > lines:
        out = out[:lines] + [MORE]
    return out


def console_commands(body: list[str]) -> list[str]:
    """The ``$ `` commands of a console block."""
    return [line[2:] for line in body if line.startswith("$ ")]


def console_output(commands: list[str], prelude: str = "") -> list[str]:
    """A console block's lines: each command after ``$ ``, then what it printed.

    The commands run in one bash session, so ``echo $?`` shows the previous command's status;
    `prelude` (the marker's own command, not shown) runs first, e.g. to start from a clean slate.
    """
    separator = "@@chromapal-docs@@"
    script = [f"{prelude} >/dev/null 2>&1"] if prelude else []
    for command in commands:
        script.append(f"{command} 2>&1; __status=$?; echo; echo '{separator}'; (exit $__status)")
    printed = run("\n".join(script), merge_stderr=True).split(f"\n{separator}\n")
    lines = []
    for command, output in zip(commands, printed, strict=False):
        lines.append(f"$ {command}")
        lines.extend(_cut(output, None))
    return lines


def expected(block: Block, lines: list[str]) -> list[str]:
    """The lines the fenced block of `block` should hold now."""
    if block.kind == "output":
        return [block.indent + x if x else x for x in _cut(run(block.command), block.lines)]
    body = [x[len(block.indent):] for x in lines[block.start:block.end]]
    return [block.indent + x if x else x for x in console_output(console_commands(body), block.command)]


def same(block: Block, shown: list[str], fresh: list[str]) -> bool:
    """Whether a block shows `fresh` output (run times masked in ``timed`` blocks)."""
    if block.timed:
        shown, fresh = ([_TIMES.sub("N", x) for x in lines] for lines in (shown, fresh))
    return shown == fresh


def update(text: str, *, pictures: bool = True) -> str:
    """`text` (the README) with every output block regenerated; pictures redrawn if asked."""
    lines = text.split("\n")
    for block in reversed(find_blocks(lines)):  # from the end: line numbers stay valid
        if block.kind == "picture":
            if pictures:
                run(block.command)
            continue
        lines[block.start:block.end] = expected(block, lines)
    return "\n".join(lines)


def check(text: str) -> list[str]:
    """A message for every output block of `text` that differs from what its command prints."""
    lines = text.split("\n")
    problems = []
    for block in find_blocks(lines):
        if block.kind != "picture" and not same(block, lines[block.start:block.end], expected(block, lines)):
            problems.append(f"README.md:{block.line}: the output of {block.command or 'the console block'!r} changed")
    return problems


def hexdump(data: bytes) -> str:
    """`data` as ``xxd`` shows it: offset, 16 bytes in groups of two, printable ASCII."""
    rows = []
    for at in range(0, len(data), 16):
        chunk = data[at:at + 16]
        groups = " ".join(chunk[i:i + 2].hex() for i in range(0, len(chunk), 2))
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        rows.append(f"{at:08x}: {groups:<39}  {text}")
    return "\n".join(rows)


def _filter(args: argparse.Namespace) -> int:
    """The small filters the README's commands pipe binary formats through."""
    data = sys.stdin.buffer.read()
    if args.unzip:
        import io
        import zipfile

        data = zipfile.ZipFile(io.BytesIO(data)).read(args.unzip)
        text = data.decode("utf-8")
    else:
        text = hexdump(data)
    if args.chars and len(text) > args.chars:
        text = text[: args.chars] + " " + MORE
    print(text)
    return 0


def main() -> int:
    """Rewrite README.md (default) or check it (``--check``)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if an output changed")
    parser.add_argument("--no-pictures", action="store_true", help="do not redraw the pictures")
    parser.add_argument("--hexdump", action="store_true", help="filter: standard input as a hex dump")
    parser.add_argument("--unzip", metavar="MEMBER", help="filter: print MEMBER of the zip on standard input")
    parser.add_argument("--chars", type=int, help="filter: cut the text after this many characters")
    args = parser.parse_args()
    if args.hexdump or args.unzip:
        return _filter(args)
    text = README.read_text(encoding="utf-8")
    if args.check:
        problems = check(text)
        print("\n".join(problems) or "README.md: every shown output is current")
        return 1 if problems else 0
    new = update(text, pictures=not args.no_pictures)
    if new != text:
        README.write_text(new, encoding="utf-8")
        print("README.md updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
