"""The package's imports point one way: no cycles, nothing from a lower layer into a higher one.

Every module under src/genlab is parsed with `ast` (not imported) and every
import of a genlab module is collected: top-level and function-level ones
alike, relative ones resolved, those under ``if TYPE_CHECKING:`` left out
(they never run). A ``from PACKAGE import NAME`` counts as an import of the
submodule PACKAGE.NAME when that is a module, else of PACKAGE itself.

Cycles are checked between modules (strongly connected components of the
module graph), not between packages: a package's ``__init__`` that imports
its own submodules, which import each other one way, is not a cycle, while
two modules that each import the other (at any depth, at call time or not)
are. Layers are those of the README's design section, lowest first; a module
may import its own layer and the layers below.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src"

#: (layer, module prefixes), lowest first; the first matching prefix (longest wins) decides
LAYERS = [
    ("core", ["genlab.errors", "genlab.cache", "genlab.version", "genlab.registry", "genlab.config", "genlab.serialization",
              "genlab.io", "genlab.viz", "genlab.latent", "genlab.capabilities", "genlab.modes", "genlab.memory",
              "genlab.pixels", "genlab.extras", "genlab.search_space"]),
    ("data, metrics", ["genlab.data", "genlab.metrics", "genlab.seqmetrics"]),
    ("blocks", ["genlab.nn", "genlab.losses"]),
    ("models", ["genlab.models"]),
    ("training", ["genlab.training"]),
    ("explore", ["genlab.explore"]),
    ("api", ["genlab.api", "genlab.evaluation", "genlab.eval_memorisation", "genlab.inpainting", "genlab.latents",
             "genlab.sweep", "genlab.pretrained", "genlab.samplers"]),
    ("faces", ["genlab.cli", "genlab.serve", "genlab.report", "genlab.report_page", "genlab.report_sweep",
               "genlab.export", "genlab.__main__", "genlab"]),
]
#: the exploration and face layers, which the lower layers must never import
UPPER = ("explore", "api", "faces")


def modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for path in (SRC / "genlab").rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_of(name: str, path: Path, is_package: bool, known: dict) -> dict[str, int]:
    """{imported genlab module: line} of module `name` (function-level included, TYPE_CHECKING not)."""
    package = name if is_package else name.rpartition(".")[0]
    found: dict[str, int] = {}

    def resolve(target: str) -> str:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            targets: list[str] = []
            if isinstance(child, ast.Import):
                targets = [a.name for a in child.names]
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - (child.level - 1)]
                    module = ".".join(base + ([child.module] if child.module else []))
                else:
                    module = child.module or ""
                targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in child.names]
            for target in targets:
                if target == "genlab" or target.startswith("genlab."):
                    resolved = resolve(target)
                    if resolved and resolved != name:
                        found.setdefault(resolved, child.lineno)
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def layer_of(module: str) -> int:
    best, best_len = None, -1
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_len:
                best, best_len = rank, len(prefix)
    assert best is not None, f"{module} is in no layer; add it to LAYERS (and the README's design section)"
    return best


def graph() -> dict[str, dict[str, int]]:
    known = modules()
    return {name: imports_of(name, path, is_package, known) for name, (path, is_package) in known.items()}


def cycles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in edges:
        if root in index:
            continue
        work = [(root, iter(edges[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(edges.get(child, {}))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_every_module_is_in_a_layer():
    for name in modules():
        layer_of(name)


def test_no_import_cycles():
    edges = graph()
    found = cycles(edges)
    described = ["; ".join(f"{a} -> {b} (line {edges[a][b]})" for a in c for b in edges[a] if b in c) for c in found]
    assert not found, "import cycles: " + " | ".join(described)


def test_no_upward_imports():
    upward = []
    for name, imported in graph().items():
        for target, line in imported.items():
            if layer_of(target) > layer_of(name):
                upward.append(f"{name} ({LAYERS[layer_of(name)][0]}) imports {target} "
                              f"({LAYERS[layer_of(target)][0]}) at line {line}")
    assert not upward, "imports from a lower layer into a higher one:\n" + "\n".join(upward)


def test_lower_layers_never_import_cli_serve_or_explore():
    """The issue's rule in its own words, independent of the full layer order above."""
    lower = ("genlab.models", "genlab.data", "genlab.metrics", "genlab.training", "genlab.nn", "genlab.losses")
    faces = ("genlab.cli", "genlab.serve", "genlab.explore")
    bad = [f"{name} imports {target}" for name, imported in graph().items() for target in imported
           if name.startswith(lower) and target.startswith(faces)]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("source, expected", [
    ("from . import b\n", {"pkg.b"}),
    ("def f():\n    from .b import x\n", {"pkg.b"}),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .b import x\n", set()),
    ("import genlab.pkg.b\n", {"pkg.b"}),
])
def test_the_walk_sees_function_level_and_skips_type_checking(tmp_path, source, expected):
    """The checker itself: function-level imports count, TYPE_CHECKING ones do not."""
    path = tmp_path / "a.py"
    path.write_text(source)
    known = {"genlab": None, "genlab.pkg": None, "genlab.pkg.a": None, "genlab.pkg.b": None}
    found = imports_of("genlab.pkg.a", path, False, known)
    assert {k.removeprefix("genlab.") for k in found} == expected


def test_imports_sit_at_the_top_of_modules():
    """ruff's import-outside-toplevel rule (pyproject.toml [tool.ruff]) on src/, as `make test` runs it:
    only the heavy or optional third-party imports marked `# noqa: PLC0415` stay inside functions."""
    import subprocess
    import sys

    makefile = (SRC.parent / "Makefile").read_text()
    assert "$(BIN)/ruff check src" in makefile.split("test: install system-deps", 1)[1].split("\n\n", 1)[0]
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-cache", "src"], cwd=SRC.parent,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
