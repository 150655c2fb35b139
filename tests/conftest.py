"""Shared fixtures: where the real third-party data lives, and a guard for CI."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _warm_dask_ip_cache() -> None:
    """Ask distributed for this machine's address once, before pytest-socket is armed.

    Its in-process comm (a run's default LocalCluster) names itself after ``get_ip()``,
    which picks the interface routing to 8.8.8.8 with a UDP ``connect`` that sends nothing;
    pytest-socket forbids that connect during a test. The answer is memoised, so asking at
    collection, when no guard is installed, keeps every test offline.
    """
    from distributed.utils import get_ip

    get_ip()


_warm_dask_ip_cache()


def shared_data_dir() -> Path:
    """``$PANTAU_SHARED_DATA`` or ``../shared/data`` relative to the repository."""
    env = os.environ.get("PANTAU_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder; fails loudly in CI when missing, skips elsewhere."""
    path = shared_data_dir()
    if not (path / "SOURCES.md").exists():
        msg = (
            f"shared data not found at {path}: set PANTAU_SHARED_DATA or place "
            "the shared/ folder beside the repository"
        )
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return path
