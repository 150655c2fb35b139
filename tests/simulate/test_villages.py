"""The simulator's villages: a tiling of a square with well-formed codes."""

from __future__ import annotations

import re

import pytest
import shapely

from simulate import simulate_villages

CODE = re.compile(r"^99\d{2}\d{2}[12]\d{3}$")


def test_simulated_villages_tile_the_square_with_wellformed_codes() -> None:
    villages = simulate_villages(n=40, size_km=5.0, seed=1)
    assert villages.crs.to_epsg() == 4326
    assert len(villages) == 40
    assert villages.is_valid.all()
    assert (villages.geom_type == "Polygon").all()
    assert villages["kode"].is_unique
    assert all(CODE.match(k) for k in villages["kode"])
    assert villages["simulated"].all()
    assert villages["nama"].str.endswith("(simulated)").all()
    utm = villages.to_crs(32749)
    union = shapely.union_all(utm.geometry.values)
    assert utm.area.sum() == pytest.approx(25e6, rel=1e-6)
    assert union.area == pytest.approx(25e6, rel=1e-6)  # no overlaps, no gaps
    kelurahan = villages["kode"].str[6] == "1"
    assert 0 < kelurahan.sum() < len(villages)


def test_simulated_villages_are_deterministic() -> None:
    a, b = simulate_villages(n=10, seed=5), simulate_villages(n=10, seed=5)
    assert a.equals(b)
    assert not a.geometry.equals(simulate_villages(n=10, seed=6).geometry)
