"""The package layout the style guide asks for.

Our generic package names are ours, dependencies between packages point one way, modules
inside a package import each other without cycles, and no module outside tests/ grows past
450 lines. Run alone with ``python -m pytest tests/test_layout.py``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

# package -> packages of ours it may import (tests/ and bench/ may import anything)
ALLOWED = {
    "geo": set(),
    "stac": {"geo"},
    "simulate": {"geo", "stac"},  # builds no cluster, computes nothing: not `workflows`
    "workflows": {"geo", "stac", "simulate", "tiles"},  # tiles only lazily, for `pantau serve`
    "tiles": {"geo"},
}

MAX_MODULE_LINES = 450
# folders that hold no project modules of ours (tests are exempt from the line limit)
_NOT_MODULES = {"tests", "build", "dist", "__pycache__", "node_modules"}


def _module_name(path: Path) -> str:
    """``geo/cog.py`` -> ``geo.cog``; ``geo/__init__.py`` -> ``geo``."""
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement, at any depth (functions too), except ``if TYPE_CHECKING:``.

    Imports under ``TYPE_CHECKING`` never run; they are how a module names a type of
    another without depending on it at run time, so they cannot make an import cycle.
    """
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        stack.extend(ast.iter_child_nodes(node))


def _imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Absolute dotted names an import statement may refer to (modules or package members).

    ``from a.b import c`` gives ``a.b.c`` (which is a module or a name in ``a.b``); relative
    imports are resolved against ``module``.
    """
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        base = ".".join(package[: len(package) - (node.level - 1)])
        source = f"{base}.{node.module}" if node.module else base
    else:
        source = node.module or ""
    return [f"{source}.{alias.name}" for alias in node.names]


def _import_graph(package: str) -> dict[str, set[str]]:
    """Module -> modules of the same package it imports (the deepest module each names)."""
    files = {_module_name(p): p for p in sorted((REPO / package).rglob("*.py"))}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in _imports(ast.parse(path.read_text(), filename=str(path))):
            for target in _imported_names(node, name, is_package):
                # `from a import b` names module a.b if there is one, else a name in a
                while target and target not in files:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (``[a, b, ..., a]``) per strongly connected component that has one (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                components.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)

    cycles = []
    for component in components:
        # walk the component from its first module until a module repeats
        start = min(component)
        path, seen = [start], {start}
        while True:
            nxt = min(w for w in graph[path[-1]] if w in component)
            if nxt in seen:
                cycles.append([*path[path.index(nxt) :], nxt])
                break
            path.append(nxt)
            seen.add(nxt)
    return cycles


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_package_is_ours(name: str) -> None:
    module = __import__(name)
    assert Path(module.__file__).resolve().is_relative_to(REPO)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package: str) -> None:
    ours = set(ALLOWED)
    bad = []
    for path in sorted((REPO / package).rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for n in names:
                top = n.split(".")[0]
                if top in ours and top != package and top not in ALLOWED[package]:
                    bad.append(f"{path.relative_to(REPO)} imports {n}")
    assert not bad, bad


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_import_cycle_inside_package(package: str) -> None:
    cycles = _cycles(_import_graph(package))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_modules_stay_small() -> None:
    offenders = []
    for path in sorted(REPO.rglob("*.py")):
        parts = path.relative_to(REPO).parts
        if any(p in _NOT_MODULES or p.startswith(".") or p.endswith(".egg-info") for p in parts):
            continue
        lines = len(path.read_text().splitlines())
        if lines > MAX_MODULE_LINES:
            offenders.append(f"{path.relative_to(REPO)}: {lines} lines")
    assert not offenders, f"modules over {MAX_MODULE_LINES} lines: {offenders}"


# --- the checker itself, on made-up packages ----------------------------------------------


def _graph_of(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, files: dict[str, str]):
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    monkeypatch.setattr(f"{__name__}.REPO", tmp_path)
    return _import_graph("pkg")


@pytest.mark.parametrize(
    ("b_source", "cycle"),
    [
        ("from pkg.a import x\n", ["pkg.a", "pkg.b", "pkg.a"]),
        ("from . import a\n", ["pkg.a", "pkg.b", "pkg.a"]),
        ("from .a import x\n", ["pkg.a", "pkg.b", "pkg.a"]),
        ("import pkg.a\n", ["pkg.a", "pkg.b", "pkg.a"]),
        ("def f():\n    from pkg import a\n", ["pkg.a", "pkg.b", "pkg.a"]),
        ("from pkg import x\n", None),  # a name of pkg/__init__, which imports nothing
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import x\n", None),
    ],
)
def test_cycle_finder(tmp_path, monkeypatch, b_source: str, cycle: list[str] | None) -> None:
    graph = _graph_of(
        tmp_path,
        monkeypatch,
        {"pkg/__init__.py": "x = 1\n", "pkg/a.py": "from pkg.b import y\n", "pkg/b.py": b_source},
    )
    assert _cycles(graph) == ([cycle] if cycle else [])


def test_cycle_finder_resolves_relative_imports_in_subpackages(tmp_path, monkeypatch) -> None:
    graph = _graph_of(
        tmp_path,
        monkeypatch,
        {
            "pkg/__init__.py": "from pkg.sub import y\n",
            "pkg/sub/__init__.py": "from .m import y\n",
            "pkg/sub/m.py": "from .. import x\ny = 1\n",
        },
    )
    assert graph["pkg.sub"] == {"pkg.sub.m"}
    assert _cycles(graph) == [["pkg", "pkg.sub", "pkg.sub.m", "pkg"]]
