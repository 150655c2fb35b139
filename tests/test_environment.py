"""environment.yml installs the same packages, with the same versions, as pyproject.toml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
# pip name -> conda-forge name, where they differ (documented at the top of environment.yml)
CONDA_NAMES = {
    "dask[array]": "dask",
    "titiler.core": "titiler-core",
    "uvicorn[standard]": "uvicorn-standard",
}
_SPEC = re.compile(r"^\s*([A-Za-z0-9_.\-]+(?:\[[^\]]+\])?)\s*(.*)$")


def _split(requirement: str) -> tuple[str, str]:
    match = _SPEC.match(requirement)
    assert match, f"cannot read requirement {requirement!r}"
    return match[1].lower(), match[2].replace(" ", "")


def pyproject_requirements() -> dict[str, str]:
    """name -> version specifier of the dependencies and the test extra."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    reqs = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    return dict(_split(r) for r in reqs)


def environment_requirements() -> tuple[dict[str, str], dict[str, str]]:
    """(conda, pip) name -> specifier of environment.yml, without python/pip/-e ."""
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    conda: dict[str, str] = {}
    pip: dict[str, str] = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for req in dep["pip"]:
                if not req.startswith("-e"):
                    name, spec = _split(req)
                    pip[name] = spec
        elif not dep.startswith(("python=", "pip")) or dep.startswith("pip-"):
            name, spec = _split(dep)
            conda[name] = spec
    return conda, pip


def _as_installed(name: str) -> str:
    return CONDA_NAMES.get(name, name)


def test_every_pyproject_requirement_is_in_the_environment_with_its_version() -> None:
    conda, pip = environment_requirements()
    for name, spec in pyproject_requirements().items():
        if name in pip:
            assert pip[name] == spec, f"{name}: pip {pip[name]!r} != pyproject {spec!r}"
            continue
        conda_name = _as_installed(name)
        assert conda_name in conda, f"{name} ({conda_name} on conda-forge) missing"
        assert conda[conda_name] == spec, f"{name}: {conda[conda_name]!r} != {spec!r}"


def test_the_environment_has_nothing_pyproject_does_not_declare() -> None:
    conda, pip = environment_requirements()
    declared = {_as_installed(n) for n in pyproject_requirements()} | set(pyproject_requirements())
    extra = (set(conda) | set(pip)) - declared
    assert not extra, f"environment.yml installs {sorted(extra)} that pyproject.toml lacks"


def test_nothing_is_installed_twice() -> None:
    conda, pip = environment_requirements()
    assert not set(conda) & set(pip)


def test_python_matches_requires_python() -> None:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    (python,) = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python=")]
    assert project["requires-python"] == f">={python.split('=')[1]}"


@pytest.mark.parametrize("requirement", ["numpy>=1.26", "dask[array]>=2024.1", "rustac==0.9.9"])
def test_requirement_parsing(requirement: str) -> None:
    name, spec = _split(requirement)
    assert requirement.lower() == name + spec
