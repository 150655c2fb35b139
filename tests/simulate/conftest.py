"""Simulator fixtures and helpers: one small simulated stack shared by the simulator tests.

Simulations here are small (a few km, a few hundred pixels a side) and generated per test
session into temporary folders; nothing is read from the network.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pystac
import pytest
import rasterio

from simulate import MANIFEST_NAME, SimulationResult, simulate_scenes, simulate_villages

REFLECTANCE = ("blue", "green", "red", "nir", "swir16", "swir22")


def built_rule(r: dict[str, np.ndarray]) -> np.ndarray:
    """The pipeline's built-up rule, written out independently of the pipeline's code."""
    ndbi = (r["swir16"] - r["nir"]) / (r["swir16"] + r["nir"])
    ndvi = (r["nir"] - r["red"]) / (r["nir"] + r["red"])
    mndwi = (r["green"] - r["swir16"]) / (r["green"] + r["swir16"])
    a, b = r["swir16"] + r["red"], r["nir"] + r["blue"]
    bsi = (a - b) / (a + b)
    return (ndbi > 0) & (ndvi < 0.2) & (mndwi < 0) & (bsi < 0.2)


def read(path: Path) -> np.ndarray:
    with rasterio.open(path) as src:
        return src.read(1)


def items_of(result: SimulationResult) -> list[pystac.Item]:
    catalog = pystac.Catalog.from_file(str(result.catalog_dir / "catalog.json"))
    return sorted(catalog.get_items(recursive=True), key=lambda i: i.datetime)


def manifest_of(result: SimulationResult) -> dict:
    return json.loads((result.catalog_dir / MANIFEST_NAME).read_text())


def mtimes(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


@pytest.fixture(scope="session")
def small_villages() -> gpd.GeoDataFrame:
    return simulate_villages(n=25, size_km=6.0, seed=3)


@pytest.fixture(scope="session")
def sim(tmp_path_factory: pytest.TempPathFactory, small_villages) -> SimulationResult:
    """Two years x five scenes over a 6 km square: every scene condition occurs."""
    out = tmp_path_factory.mktemp("sim")
    return simulate_scenes(small_villages, out, seed=11, progress=False)
