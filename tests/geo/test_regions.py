"""Villages to regions: hand-computed area-weighted values, region changes, indicators, names.

The villages are squares drawn in the equal-area EPSG:6933 with known areas (km²):

    A 3404012001  1 km²    B 3404012002  3 km²   (kecamatan 340401, side by side)
    C 3404022001  2 km²                          (kecamatan 340402)   kab 3404 Sleman
    D 3471011001  4 km²                          (kecamatan 347101)   kab 3471 Kota Yogyakarta

Every expected value below is worked out by hand in the comments, not by the code under test.
"""

from __future__ import annotations

import math

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from geo.products import PRODUCTS
from geo.regions import aggregate_regions, default_rules, region_indicators, village_areas

A, B, C, D = "3404012001", "3404012002", "3404022001", "3471011001"
AREAS_KM2 = {A: 1.0, B: 3.0, C: 2.0, D: 4.0}
RULES = {"built_up_fraction": "clear_mean", "valid_fraction": "area_mean", "n_roofs": "sum"}


def _square(x0: float, area_km2: float) -> shapely.Polygon:
    side = math.sqrt(area_km2) * 1000
    return shapely.box(x0, 0, x0 + side, side)


@pytest.fixture(scope="module")
def villages() -> gpd.GeoDataFrame:
    # A and B touch (A spans 0..1000 m, B starts at 1000 m); C and D stand apart.
    squares = {A: _square(0, 1), B: _square(1000, 3), C: _square(10_000, 2), D: _square(20_000, 4)}
    rows = [
        # period, kode, built_up_fraction, valid_fraction, ndvi_p10, n_roofs
        ("2023", A, 0.5, 1.0, 0.1, 10),
        ("2023", B, 0.1, 0.5, 0.2, 20),
        ("2023", C, 0.2, 1.0, 0.3, 30),
        ("2023", D, 0.8, 0.25, 0.4, 40),
        ("2024", A, 0.6, 1.0, 0.1, 11),
        ("2024", B, 0.1, 0.5, 0.2, 20),
        ("2024", C, 0.2, 1.0, 0.3, 30),
        ("2024", D, np.nan, 0.25, 0.4, 40),
    ]
    cols = ["period", "kode", "built_up_fraction", "valid_fraction", "ndvi_p10", "n_roofs"]
    table = pd.DataFrame(rows, columns=cols)
    for col in ("built_up_fraction", "valid_fraction"):
        first = table["period"] == "2023"
        previous = table.loc[first].set_index("kode")[col]
        table[f"{col}_change"] = table[col] - table["kode"].map(previous)
        table.loc[first, f"{col}_change"] = np.nan
    geometry = gpd.GeoSeries([squares[k] for k in table["kode"]], crs="EPSG:6933")
    return gpd.GeoDataFrame(table, geometry=geometry.to_crs("EPSG:4326").values, crs="EPSG:4326")


@pytest.fixture(scope="module")
def regions(villages: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    return aggregate_regions(villages, columns=RULES)


def value(regions: gpd.GeoDataFrame, kode: str, period: str, column: str) -> float:
    row = regions[(regions["kode"] == kode) & (regions["period"] == period)]
    assert len(row) == 1, f"{kode} {period}: {len(row)} rows"
    return float(row[column].iloc[0])


def test_village_areas_are_equal_area(villages: gpd.GeoDataFrame) -> None:
    first = villages.drop_duplicates("kode")
    areas = village_areas(first.geometry) / 1e6
    assert areas == pytest.approx([AREAS_KM2[k] for k in first["kode"]], rel=1e-6)


def test_levels_and_codes(regions: gpd.GeoDataFrame) -> None:
    found = {(lv, k) for lv, k in zip(regions["level"], regions["kode"], strict=True)}
    assert found == {
        ("province", "34"),
        ("kab", "3404"),
        ("kab", "3471"),
        ("kecamatan", "340401"),
        ("kecamatan", "340402"),
        ("kecamatan", "347101"),
    }
    assert set(regions["period"]) == {"2023", "2024"}
    assert regions.crs.to_epsg() == 4326


@pytest.mark.parametrize(
    ("kode", "expected"),
    [
        # clear area = area x valid_fraction: A 1, B 1.5, C 2, D 1 (km²)
        ("340401", (0.5 * 1 + 0.1 * 1.5) / 2.5),  # 0.26
        ("3404", (0.5 * 1 + 0.1 * 1.5 + 0.2 * 2) / 4.5),  # 0.2333
        ("34", (0.5 * 1 + 0.1 * 1.5 + 0.2 * 2 + 0.8 * 1) / 5.5),  # 0.3364
    ],
)
def test_fraction_is_weighted_by_clear_area(
    regions: gpd.GeoDataFrame, kode: str, expected: float
) -> None:
    assert value(regions, kode, "2023", "built_up_fraction") == pytest.approx(expected)


@pytest.mark.parametrize(
    ("kode", "expected"),
    [("340401", (1 * 1.0 + 3 * 0.5) / 4), ("3404", 4.5 / 6), ("34", 5.5 / 10)],
)
def test_valid_fraction_is_weighted_by_area(
    regions: gpd.GeoDataFrame, kode: str, expected: float
) -> None:
    assert value(regions, kode, "2023", "valid_fraction") == pytest.approx(expected)


def test_counts_are_summed_and_sizes_reported(regions: gpd.GeoDataFrame) -> None:
    assert value(regions, "3404", "2024", "n_roofs") == 11 + 20 + 30
    assert value(regions, "34", "2023", "n_villages") == 4
    assert value(regions, "3404", "2023", "area_km2") == pytest.approx(6.0, rel=1e-6)


def test_quantiles_are_left_out(regions: gpd.GeoDataFrame) -> None:
    assert "ndvi_p10" not in regions.columns


def test_missing_village_value_drops_out_of_the_mean(regions: gpd.GeoDataFrame) -> None:
    # D has no value in 2024: the province is A, B, C only: (0.6 + 0.15 + 0.4) / 4.5
    assert value(regions, "34", "2024", "built_up_fraction") == pytest.approx(1.15 / 4.5)
    assert math.isnan(value(regions, "3471", "2024", "built_up_fraction"))


def test_change_is_recomputed_at_region_level(regions: gpd.GeoDataFrame) -> None:
    assert math.isnan(value(regions, "34", "2023", "built_up_fraction_change"))
    # region 2024 minus region 2023, not a mean of village changes (that would be 0.1/4.5)
    expected = 1.15 / 4.5 - 1.85 / 5.5  # -0.0808
    assert value(regions, "34", "2024", "built_up_fraction_change") == pytest.approx(expected)
    assert value(regions, "340401", "2024", "built_up_fraction_change") == pytest.approx(
        0.75 / 2.5 - 0.65 / 2.5
    )
    assert "n_roofs_change" not in regions.columns  # villages have no such change column


def test_geometry_is_the_union_of_the_villages(regions: gpd.GeoDataFrame) -> None:
    kec = regions[(regions["kode"] == "340401") & (regions["period"] == "2023")]
    geom = kec.to_crs("EPSG:6933").geometry.iloc[0]
    assert geom.geom_type == "Polygon"  # A and B touch: one polygon, no inner edge
    assert geom.area / 1e6 == pytest.approx(4.0, rel=1e-4)
    province = regions[regions["kode"] == "34"].to_crs("EPSG:6933").geometry.iloc[0]
    assert len(shapely.get_parts(province)) == 3  # (A+B), C, D
    assert province.area / 1e6 == pytest.approx(10.0, rel=1e-4)


def test_names_from_the_kemendagri_list_or_given(villages: gpd.GeoDataFrame) -> None:
    named = aggregate_regions(villages, columns=RULES, names={"3471": "Kota Jogja"})
    names = dict(zip(named["kode"], named["nama"], strict=True))
    assert names["34"] == "Daerah Istimewa Yogyakarta"
    assert names["3404"] == "Kabupaten Sleman"
    assert names["3471"] == "Kota Jogja"


def test_clear_mean_needs_valid_fraction(villages: gpd.GeoDataFrame) -> None:
    with pytest.raises(ValueError, match="valid_fraction"):
        aggregate_regions(villages.drop(columns="valid_fraction"), columns=RULES)


def test_rules_come_from_the_registry() -> None:
    rules = default_rules(PRODUCTS.aggregation())
    assert rules["built_up_fraction"] == "clear_mean"
    assert rules["ndvi_mean"] == "clear_mean"
    assert rules["valid_fraction"] == "area_mean"
    assert not {"ndvi_p10", "ndvi_std", "ndvi_median", "n_obs"} & set(rules)
    with pytest.raises(ValueError, match="unknown rule"):
        default_rules({"x": "median"})


# --------------------------------------------------------------------------- indicators

AREAS = pd.Series({k: v * 1e6 for k, v in AREAS_KM2.items()})
KAB_TABLE = pd.DataFrame(
    {"kode": ["3404", "3471", "3402"], "level": "kabkota", "p0": [10.0, 20.0, 99.0],
     "klass": ["low", "high", "mid"]}
)  # fmt: skip


def test_kab_indicator_is_its_own_value_at_kab_level() -> None:
    got = region_indicators(KAB_TABLE, AREAS, "kab")
    assert got["p0"].to_dict() == {"3404": 10.0, "3471": 20.0}  # 3402 has no village here
    assert got["klass"].to_dict() == {"3404": "low", "3471": "high"}


def test_kab_indicator_at_province_is_weighted_by_kab_area() -> None:
    # kab areas: 3404 = 1 + 3 + 2 = 6 km², 3471 = 4 km² -> (10 x 6 + 20 x 4) / 10 = 14.
    # Averaging the villages that carry the kab value would give (10 x 3 + 20) / 4 = 12.5.
    got = region_indicators(KAB_TABLE, AREAS, "province")
    assert got.loc["34", "p0"] == pytest.approx(14.0)
    assert "klass" not in got.columns  # categories do not average


def test_kab_indicator_passes_down_to_kecamatan() -> None:
    got = region_indicators(KAB_TABLE, AREAS, "kecamatan")
    assert got["p0"].to_dict() == {"340401": 10.0, "340402": 10.0, "347101": 20.0}


def test_village_indicator_is_area_weighted_over_villages_with_a_value() -> None:
    idm = pd.DataFrame({"kode": [A, C, D], "level": "desa", "idm": [0.8, 0.6, 0.5]})
    got = region_indicators(idm, AREAS, "kab")
    # 3404: A (1 km²) and C (2 km²); B has no IDM and does not count.
    assert got.loc["3404", "idm"] == pytest.approx((0.8 * 1 + 0.6 * 2) / 3)
    assert got.loc["3471", "idm"] == pytest.approx(0.5)
    villages = region_indicators(idm, AREAS, "village")["idm"]
    assert villages[A] == 0.8 and villages[D] == 0.5 and math.isnan(villages[B])
