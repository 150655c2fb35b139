"""The package layout the style guide asks for: our generic names are ours, deps point one way."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.conftest import REPO

# package -> packages of ours it may import
ALLOWED = {
    "geo": set(),
    "stac": {"geo"},
    "workflows": {"geo", "stac", "tiles"},  # tiles only lazily, for `pantau serve`
    "tiles": {"geo"},
}


@pytest.mark.parametrize("name", sorted(ALLOWED))
def test_package_is_ours(name: str) -> None:
    module = __import__(name)
    assert Path(module.__file__).resolve().is_relative_to(REPO)


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_dependencies_point_one_way(package: str) -> None:
    ours = set(ALLOWED)
    bad = []
    for path in (REPO / package).rglob("*.py"):
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
