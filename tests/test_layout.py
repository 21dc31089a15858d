"""The house rules, checked on the source: no import cycles, no module over ~400 lines,
and ``import chromapal`` / the command line's help import nothing heavy (issue 13).

The import graph is computed from the AST of every module of the package: the imports
run when a module is imported (module level, including ``try`` and ``if`` blocks, but not
``if TYPE_CHECKING:``), each also importing the packages above the module it names.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import chromapal

PACKAGE = Path(chromapal.__file__).resolve().parent
#: The most lines a module may have ("about 400").
MAX_LINES = 400
#: Modules the light paths must not import: slow to import, or the web and batch machinery.
HEAVY = (
    "numpy", "PIL", "click", "rich", "matplotlib", "http.client", "ssl", "email", "multiprocessing",
    "concurrent.futures", "fastapi", "uvicorn", "sqlite3",
    "chromapal.batch", "chromapal.web", "chromapal.store", "chromapal.workers", "chromapal.fetch",
    "chromapal.render.swatches", "xml.sax",
)
#: What the command's help may import besides click (and the package's own light modules).
HELP_HEAVY = tuple(m for m in HEAVY if m != "click")


def module_name(path: Path) -> str:
    """``chromapal/cli/common.py`` -> ``chromapal.cli.common``; a package's ``__init__`` -> the package."""
    parts = ["chromapal", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name."""
    return {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports executed when the module is imported: not inside functions, classes or TYPE_CHECKING."""
    found: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.stmt] = list(tree.body)
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                todo += node.body
            todo += node.orelse
        elif isinstance(node, ast.Try):
            todo += node.body + node.orelse + node.finalbody + [s for h in node.handlers for s in h.body]
        elif isinstance(node, ast.With):
            todo += node.body
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the package's modules its import runs (directly)."""
    known = modules()
    graph: dict[str, set[str]] = {name: set() for name in known}

    def add(source: str, target: str) -> None:
        parts = target.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a, a.b and a.b.c ...
            name = ".".join(parts[:i])
            ancestor = source.startswith(name + ".")  # ... but the importer's own packages run already
            if name in known and name != source and (name == target or not ancestor):
                graph[source].add(name)

    for name, path in known.items():
        is_package = path.name == "__init__.py"
        here = name if is_package else name.rpartition(".")[0]
        for node in _module_level_imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(name, alias.name)
                continue
            base = here
            for _ in range(node.level - 1):
                base = base.rpartition(".")[0]
            target = f"{base}.{node.module}" if node.level and node.module else (node.module if not node.level else base)
            assert target is not None
            add(name, target)
            for alias in node.names:
                add(name, f"{target}.{alias.name}")  # `from . import sub` imports a submodule
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_graph_sees_module_level_imports_and_not_type_checking_ones():
    """The checker itself: a made-up cycle is found, a TYPE_CHECKING import is not an edge."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    graph = import_graph()
    assert "chromapal.cli.common" in graph["chromapal.cli.pictures"]
    assert {"chromapal.export", "chromapal.export.atomic"} <= graph["chromapal.store_export"]  # the package runs first
    assert "chromapal.cli" not in graph["chromapal.cli.common"]  # its own package runs already
    assert "chromapal.palette" not in graph["chromapal.cli.output"]  # only under TYPE_CHECKING


def test_no_import_cycles_anywhere_in_the_package():
    """No module imports itself back through others (cli <-> its commands, palette <-> render, ...)."""
    assert cycles(import_graph()) == []


#: Modules still over MAX_LINES, each at most at its length when this test was written; a
#: module split below MAX_LINES must leave this list (so it only shrinks).
NOT_YET_SPLIT = {"chromapal.workers": 415}


def test_no_module_is_over_about_400_lines():
    """Clear one-purpose modules: none over MAX_LINES lines (but the listed ones, which may not grow)."""
    lengths = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules().items()}
    long = {name: n for name, n in lengths.items() if n > MAX_LINES}
    assert {name: n for name, n in long.items() if n > NOT_YET_SPLIT.get(name, MAX_LINES)} == {}
    assert sorted(set(NOT_YET_SPLIT) - set(long)) == [], "split: remove it from NOT_YET_SPLIT"


def _loaded_after(code: str, *argv: str) -> list[str]:
    """The HEAVY modules in sys.modules after running `code` in a fresh interpreter."""
    probe = (
        "import sys, json\n"
        f"sys.argv = ['chromapal', *{list(argv)!r}]\n"
        f"try:\n    {code}\nexcept SystemExit:\n    pass\n"
        "heavy = " + repr(HEAVY) + "\n"
        "print(json.dumps(sorted(m for m in sys.modules if m in heavy or m.startswith(tuple(h + '.' for h in heavy)))), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    return json.loads(result.stderr.strip().splitlines()[-1])


def test_import_chromapal_is_light():
    """``import chromapal`` imports none of the heavy modules; the names still work on use."""
    assert _loaded_after("import chromapal") == []
    loaded = _loaded_after("import chromapal; chromapal.Palette")
    assert "numpy" in loaded  # the lazy names do import their modules
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        chromapal.nope  # noqa: B018


def test_public_names_are_the_modules_own():
    """Every name in chromapal.__all__ is the object its module defines."""
    import importlib

    for name in chromapal.__all__:
        module = importlib.import_module(f"chromapal.{chromapal._EXPORTS[name]}")
        assert getattr(chromapal, name) is getattr(module, name)


@pytest.mark.parametrize("argv", [["--help"], ["-h"]])
def test_help_imports_only_click(argv):
    """``chromapal --help`` lists every command without importing any of them."""
    loaded = _loaded_after("from chromapal.cli import main; main()", *argv)
    assert [m for m in loaded if not m.startswith("click")] == []
    assert not [m for m in sys.modules if False]  # keep the probe honest: the child ran
    out = subprocess.run(
        [sys.executable, "-c", "import sys; print(sorted(m for m in sys.modules if m.startswith('chromapal.cli.')))\n"
         "sys.argv = ['chromapal', '--help']\nfrom chromapal.cli import main\n"
         "try:\n    main()\nexcept SystemExit:\n    pass\n"
         "print(sorted(m for m in sys.modules if m.startswith('chromapal.cli.')), file=sys.stderr)"],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert out.stderr.strip().splitlines()[-1] == "['chromapal.cli.group']"


def test_every_subcommand_help_imports_nothing_heavy():
    """``chromapal SUB -h`` imports click and the command's module, not numpy, PIL, rich, ..."""
    from chromapal.cli.group import COMMANDS

    for name in COMMANDS:
        loaded = _loaded_after("from chromapal.cli import main; main()", name, "-h")
        assert [m for m in loaded if not m.startswith("click")] == [], name


def test_the_probe_sees_heavy_imports():
    """The check can fail: running a palette does import numpy and PIL."""
    loaded = _loaded_after("from chromapal.cli import main; main()", "tests/data/kodim23.png")
    assert {"numpy", "PIL"} <= set(loaded)
