"""Village boundaries: the real DIY files, and small generated bad files in tmp_path."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import geopandas as gpd
import pytest
from shapely.geometry import Point, Polygon

from geo.codes import village_kinds
from geo.errors import BoundaryFileError, InvalidCodeError
from geo.villages import BoundaryReport, VillageSet, load_villages

DIY = "boundaries/desa_kel_34_diy"


def square(x: float, size: float = 1000.0) -> Polygon:
    """A square in metres (UTM 49S), ``size`` wide, starting at easting offset ``x``."""
    x0, y0 = 430_000.0 + x, 9_120_000.0
    return Polygon([(x0, y0), (x0 + size, y0), (x0 + size, y0 + size), (x0, y0 + size)])


def bow_tie() -> Polygon:
    """A self-intersecting ring: invalid, make_valid turns it into two triangles."""
    x0, y0 = 420_000.0, 9_120_000.0
    return Polygon([(x0, y0), (x0 + 1000, y0 + 1000), (x0 + 1000, y0), (x0, y0 + 1000)])


@pytest.fixture
def messy() -> gpd.GeoDataFrame:
    """Five features in UTM 49S: dotted codes, a bow tie, a duplicate, two bad codes."""
    return gpd.GeoDataFrame(
        {
            "KODE": ["34.04.01.2001", "34.04.01.2002", "3404012002", "bad", "3273010001"],
            "NAMA": ["Bow", "Dup A", "Dup B", "Bad", "BPS-shaped"],
        },
        geometry=[bow_tie(), square(0), square(1000), square(2000), square(3000)],
        crs="EPSG:32749",
    )


def write_without_crs(frame: gpd.GeoDataFrame, path: Path) -> None:
    """Write a file with no CRS (the writer warns, which is the point)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        frame.set_crs(None, allow_override=True).to_file(path)


# -- real data ---------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".parquet", ".geojson"])
def test_real_diy_file(shared_data: Path, suffix: str) -> None:
    result = load_villages(shared_data / f"{DIY}{suffix}")
    villages = result.villages
    assert len(villages) == 438
    assert list(villages.columns) == ["kode", "nama", "geometry"]
    assert villages.crs.to_epsg() == 4326
    assert villages["kode"].is_unique
    assert villages["kode"].str.fullmatch(r"\d{10}").all()
    assert village_kinds(villages["kode"]).value_counts().to_dict() == {
        "desa": 392,
        "kelurahan": 46,
    }
    # kode (dotted) and kode_10 agree, so the 10-digit column is the one used.
    assert result.report.code_column == "kode_10"
    assert result.report.invalid_codes.count == 0


@pytest.mark.parametrize("region", ["3404", "34.04", 3404])
def test_real_region_sleman(shared_data: Path, region: object) -> None:
    result = load_villages(shared_data / f"{DIY}.parquet", region=str(region))
    assert len(result.villages) == 86
    assert result.villages["kode"].str.startswith("3404").all()
    assert result.report.region == "3404"
    assert result.report.outside_region == 438 - 86


def test_unknown_region_lists_available_prefixes(shared_data: Path) -> None:
    with pytest.raises(BoundaryFileError, match="3401, 3402, 3403, 3404, 3471"):
        load_villages(shared_data / f"{DIY}.parquet", region="34.09")


def test_malformed_region_is_a_code_error(shared_data: Path) -> None:
    with pytest.raises(InvalidCodeError, match="340"):
        load_villages(shared_data / f"{DIY}.parquet", region="340")


def test_report_is_json_ready(shared_data: Path) -> None:
    report = load_villages(shared_data / f"{DIY}.parquet", region="3471").report
    data = json.loads(json.dumps(report.to_dict()))
    assert data["n_features_read"] == 438
    assert data["n_villages"] == 45  # Kota Yogyakarta: 45 kelurahan
    assert data["invalid_codes"] == {"count": 0, "examples": []}


# -- generated files ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["messy.shp", "messy.gpkg", "messy.parquet"])
def test_round_trip_repairs_and_reports(tmp_path: Path, messy: gpd.GeoDataFrame, name: str) -> None:
    path = tmp_path / name
    messy.to_parquet(path) if name.endswith(".parquet") else messy.to_file(path)
    result = load_villages(path)
    assert isinstance(result, VillageSet)
    villages, report = result.villages, result.report
    assert isinstance(report, BoundaryReport)
    assert villages["kode"].tolist() == ["3404012001", "3404012002"]
    assert villages.crs.to_epsg() == 4326
    assert villages.is_valid.all()
    assert report.n_features_read == 5
    assert report.n_villages == 2
    assert report.code_column == "KODE"
    assert report.invalid_codes.count == 2
    assert set(report.invalid_codes.examples) == {"bad", "3273010001"}
    assert report.duplicate_codes == ("3404012002",)
    assert report.repaired_geometries == ("3404012001",)
    assert report.crs == "EPSG:32749"


def test_bow_tie_keeps_both_triangles(tmp_path: Path, messy: gpd.GeoDataFrame) -> None:
    messy.to_file(tmp_path / "m.gpkg")
    villages = load_villages(tmp_path / "m.gpkg").villages.to_crs(32749)
    bow = villages.geometry.iloc[0]
    assert bow.geom_type == "MultiPolygon"
    assert bow.area == pytest.approx(500_000, rel=1e-6)  # two triangles of a 1 km square


def test_duplicate_codes_are_dissolved(tmp_path: Path, messy: gpd.GeoDataFrame) -> None:
    messy.to_file(tmp_path / "m.gpkg")
    villages = load_villages(tmp_path / "m.gpkg").villages.to_crs(32749)
    merged = villages.set_index("kode").loc["3404012002"]
    assert merged.geometry.area == pytest.approx(2_000_000, rel=1e-6)
    assert merged["nama"] == "Dup A"


def test_empty_and_point_geometries_are_dropped(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"kode_desa": ["3404012001", "3404012002", "3404012003"]},
        geometry=[square(0), Point(430_000, 9_120_000), Polygon()],
        crs="EPSG:32749",
    )
    frame.to_file(tmp_path / "p.gpkg")
    result = load_villages(tmp_path / "p.gpkg")
    assert result.villages["kode"].tolist() == ["3404012001"]
    assert set(result.report.dropped_geometries) == {"3404012002", "3404012003"}
    assert "nama" not in result.villages.columns


def test_explicit_columns(tmp_path: Path, messy: gpd.GeoDataFrame) -> None:
    messy.rename(columns={"KODE": "id_wilayah", "NAMA": "label"}).to_file(tmp_path / "m.gpkg")
    result = load_villages(tmp_path / "m.gpkg", code_column="id_wilayah", name_column="label")
    assert result.villages["nama"].tolist() == ["Bow", "Dup A"]


def test_missing_code_column_lists_columns(tmp_path: Path, messy: gpd.GeoDataFrame) -> None:
    messy.rename(columns={"KODE": "id_wilayah"}).to_file(tmp_path / "m.gpkg")
    with pytest.raises(BoundaryFileError, match="columns are: id_wilayah, NAMA"):
        load_villages(tmp_path / "m.gpkg")


def test_named_code_column_must_exist(tmp_path: Path, messy: gpd.GeoDataFrame) -> None:
    messy.to_file(tmp_path / "m.gpkg")
    with pytest.raises(BoundaryFileError, match="'kode_10' not in .*KODE, NAMA"):
        load_villages(tmp_path / "m.gpkg", code_column="kode_10")


def test_disagreeing_code_columns_are_ambiguous(tmp_path: Path, messy: gpd.GeoDataFrame) -> None:
    messy.assign(kode_desa="3401012001").to_file(tmp_path / "m.gpkg")
    with pytest.raises(BoundaryFileError, match="ambiguous.*kode_desa.*KODE"):
        load_villages(tmp_path / "m.gpkg")


def test_column_without_village_codes(tmp_path: Path, messy: gpd.GeoDataFrame) -> None:
    messy.assign(KODE="34.04").to_file(tmp_path / "m.gpkg")
    with pytest.raises(BoundaryFileError, match="no column of 10-digit village codes"):
        load_villages(tmp_path / "m.gpkg")


@pytest.mark.parametrize("name", ["nocrs.shp", "nocrs.parquet"])
def test_file_without_crs(tmp_path: Path, messy: gpd.GeoDataFrame, name: str) -> None:
    path = tmp_path / name
    if name.endswith(".parquet"):
        messy.set_crs(None, allow_override=True).to_parquet(path)
    else:
        write_without_crs(messy, path)
    with pytest.raises(BoundaryFileError, match="has no CRS"):
        load_villages(path)


def test_unknown_crs(tmp_path: Path, messy: gpd.GeoDataFrame) -> None:
    messy.to_file(tmp_path / "m.shp")
    (tmp_path / "m.prj").write_text('LOCAL_CS["site grid",UNIT["metre",1]]')
    with pytest.raises(BoundaryFileError, match="cannot reproject .*'site grid'"):
        load_villages(tmp_path / "m.shp")


@pytest.mark.parametrize("name", ["notes.geojson", "table.parquet", "notes.txt", "table.csv"])
def test_not_a_geo_file(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("kode,nama\n3404012001,Sleman\n")
    with pytest.raises(BoundaryFileError, match="cannot read boundary file .*expected GeoParquet"):
        load_villages(tmp_path / name)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BoundaryFileError, match="not found"):
        load_villages(tmp_path / "nope.gpkg")


def test_no_villages_left(tmp_path: Path, messy: gpd.GeoDataFrame) -> None:
    messy.assign(KODE="bad").to_file(tmp_path / "m.gpkg")
    with pytest.raises(BoundaryFileError, match="no usable villages"):
        load_villages(tmp_path / "m.gpkg", code_column="KODE")


def test_3d_polygons_become_2d(tmp_path: Path) -> None:
    flat = square(0)
    solid = Polygon([(x, y, 100.0) for x, y in flat.exterior.coords])
    gpd.GeoDataFrame({"kode": ["3404012001"]}, geometry=[solid], crs="EPSG:32749").to_file(
        tmp_path / "z.gpkg"
    )
    villages = load_villages(tmp_path / "z.gpkg").villages
    assert not villages.has_z.any()
