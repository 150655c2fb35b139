"""Workflow fixtures: one tiny simulated scene stack shared by the run tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulate import SimulationResult, simulate_scenes, simulate_villages

START, END = "2021-01-01", "2022-12-31"


@pytest.fixture(scope="session")
def tiny_villages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A GeoParquet of 12 simulated villages over ~3 km (clearly labelled simulated)."""
    path = tmp_path_factory.mktemp("villages") / "villages.parquet"
    simulate_villages(n=12, seed=3, size_km=3.0).to_parquet(path)
    return path


@pytest.fixture(scope="session")
def tiny_scenes(tmp_path_factory: pytest.TempPathFactory, tiny_villages: Path) -> SimulationResult:
    """Simulated Sentinel-2 L2A scenes (2 years x 4 dates) over the tiny villages."""
    import geopandas as gpd

    out = tmp_path_factory.mktemp("sim")
    return simulate_scenes(
        gpd.read_parquet(tiny_villages),
        out,
        start=START,
        end=END,
        scenes_per_year=4,
        seed=3,
        progress=False,
    )


@pytest.fixture
def inprocess_client():
    """A Dask client whose worker runs in this process, so monkeypatches reach the units."""
    from distributed import Client

    with Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address="127.0.0.1:0"
    ) as client:
        yield client
