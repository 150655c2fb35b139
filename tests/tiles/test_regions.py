"""Region levels in the tile server: level by zoom, ``?level=``, ``/regions/{kode}``, MVT size.

The products are the session fixture (20 DIY villages in kab 3404 Sleman and 3471 Kota
Yogyakarta) plus a ``regions.parquet`` written by ``workflows.regions.write_regions``.
Expected region values are recomputed here from villages.parquet with the definitions of the
README (clear area = area x valid_fraction, areas in EPSG:6933).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import geopandas as gpd
import mapbox_vector_tile
import numpy as np
import pandas as pd
import pytest
import shapely
from fastapi.testclient import TestClient

import tiles.listing
import tiles.villages
from tests.tiles.conftest import tile_of, village_point
from tiles.choropleth import tile_bounds
from tiles.settings import TilesSettings
from tiles.vector import render_mvt
from tiles.villages import VillageData
from workflows.regions import write_regions

BACIRO = "3471031004"  # Kota Yogyakarta
CATURTUNGGAL = "3404072001"  # Sleman, kecamatan Depok (340407)
MVT_CAP = 500_000


@pytest.fixture(scope="module")
def region_products(products_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(shutil.copytree(products_dir, tmp_path_factory.mktemp("regions") / "p"))
    write_regions(root, gpd.read_parquet(root / "villages.parquet"))
    return root


@pytest.fixture(scope="module")
def rclient(region_products: Path) -> TestClient:
    from tiles.app import create_app

    return TestClient(create_app(TilesSettings(products_dir=region_products, rescan_interval=0)))


@pytest.fixture(scope="module")
def villages(region_products: Path) -> gpd.GeoDataFrame:
    frame = gpd.read_parquet(region_products / "villages.parquet")
    return frame.assign(area=frame.to_crs("EPSG:6933").area)


def clear_mean(villages: gpd.GeoDataFrame, prefix: str, period: str, column: str) -> float:
    rows = villages[villages["kode"].str.startswith(prefix) & (villages["period"] == period)]
    rows = rows[rows[column].notna()]
    weights = rows["area"] * rows["valid_fraction"]
    return float((rows[column] * weights).sum() / weights.sum())


def mvt(client: TestClient, url: str) -> list[dict]:
    response = client.get(url)
    assert response.status_code == 200, response.text
    return mapbox_vector_tile.decode(response.content)["villages"]["features"]


def kode_lengths(client: TestClient, layer: str, z: int, query: str = "") -> set[int]:
    z, x, y = tile_of(*village_point(client_products(client), BACIRO), z)
    features = mvt(client, f"/layers/{layer}/2024/tiles/{z}/{x}/{y}.pbf{query}")
    return {len(f["properties"]["kode"]) for f in features}


def client_products(client: TestClient) -> Path:
    return client.app.state.pantau.settings.products_dir


# --------------------------------------------------------------------------- levels


@pytest.mark.parametrize(("z", "length"), [(5, 2), (6, 2), (7, 4), (8, 4), (9, 6), (10, 6),
                                           (11, 10), (14, 10)])  # fmt: skip
def test_level_switches_with_zoom(rclient: TestClient, z: int, length: int) -> None:
    assert kode_lengths(rclient, "choropleth.built_up_fraction", z) == {length}


@pytest.mark.parametrize("layer", ["vector.villages", "bivariate.built_up_fraction_change__"
                                   "poverty.p0_persen_2021"])  # fmt: skip
def test_other_village_layers_switch_too(rclient: TestClient, layer: str) -> None:
    assert kode_lengths(rclient, layer, 7) == {4}


@pytest.mark.parametrize(("level", "length"), [("province", 2), ("kab", 4), ("village", 10)])
def test_level_can_be_pinned(rclient: TestClient, level: str, length: int) -> None:
    layer = "choropleth.built_up_fraction"
    assert kode_lengths(rclient, layer, 12, f"?level={level}") == {length}


def test_zoom_thresholds_are_settings(region_products: Path, make_client: Callable) -> None:
    client = make_client(
        region_products, province_max_zoom=-1, kab_max_zoom=-1, kecamatan_max_zoom=5
    )
    assert kode_lengths(client, "choropleth.built_up_fraction", 5) == {6}
    with pytest.raises(ValueError, match="kab_max_zoom"):
        TilesSettings(products_dir=region_products, kab_max_zoom=11)  # > kecamatan 10


def test_column_without_regions_falls_back_to_villages(rclient: TestClient) -> None:
    # quantiles are not aggregated: zoomed out, the villages are drawn
    assert kode_lengths(rclient, "choropleth.ndvi_p10", 5) == {10}
    z, x, y = tile_of(*village_point(client_products(rclient), BACIRO), 5)
    url = f"/layers/choropleth.ndvi_p10/2024/tiles/{z}/{x}/{y}.png?level=kab"
    response = rclient.get(url)
    assert response.status_code == 400 and response.json()["parameter"] == "level"
    assert "village" in response.json()["detail"]


@pytest.mark.parametrize("query", ["?level=desa", "?level=KAB", "?level="])
def test_level_is_validated(rclient: TestClient, query: str) -> None:
    z, x, y = tile_of(*village_point(client_products(rclient), BACIRO), 8)
    for url in (
        f"/layers/choropleth.built_up_fraction/2024/tiles/{z}/{x}/{y}.png{query}",
        f"/layers/choropleth.built_up_fraction/2024/legend.json{query}",
        f"/layers/choropleth.built_up_fraction/2024/tilejson.json{query}",
    ):
        response = rclient.get(url)
        assert response.status_code == 400, url
        assert response.json()["parameter"] == "level"


def test_without_regions_parquet_only_villages(client: TestClient) -> None:
    assert kode_lengths(client, "choropleth.built_up_fraction", 5) == {10}
    response = client.get("/layers/choropleth.built_up_fraction/2024/legend.json?level=kab")
    assert response.status_code == 400 and "regions.parquet" in response.json()["detail"]


# --------------------------------------------------------------------------- values


def test_kab_value_is_the_clear_area_weighted_mean(
    rclient: TestClient, villages: gpd.GeoDataFrame
) -> None:
    z, x, y = tile_of(*village_point(client_products(rclient), BACIRO), 7)
    features = mvt(rclient, f"/layers/choropleth.built_up_fraction/2024/tiles/{z}/{x}/{y}.pbf")
    values = {f["properties"]["kode"]: f["properties"]["value"] for f in features}
    for kab in ("3404", "3471"):
        assert values[kab] == pytest.approx(clear_mean(villages, kab, "2024", "built_up_fraction"))


def test_kab_indicator_is_not_averaged_from_villages(
    rclient: TestClient, villages: gpd.GeoDataFrame, products_dir: Path
) -> None:
    poverty = pd.read_parquet(products_dir / "indicators" / "poverty.parquet").set_index("kode")
    p0 = poverty["p0_persen_2021"]
    kab = rclient.get("/regions/3404").json()
    assert kab["indicators"]["poverty.p0_persen_2021"] == pytest.approx(p0["3404"])
    # province: kab values weighted by the kab's area (the villages of the products)
    first = villages.drop_duplicates("kode")
    area = first.groupby(first["kode"].str[:4])["area"].sum()
    expected = (p0["3404"] * area["3404"] + p0["3471"] * area["3471"]) / area.sum()
    province = rclient.get("/regions/34").json()
    assert province["indicators"]["poverty.p0_persen_2021"] == pytest.approx(expected)
    assert "idm.status_idm_2024" not in province["indicators"]  # categories do not average
    assert "idm.status_idm_2024" in rclient.get(f"/villages/{CATURTUNGGAL}").json()["indicators"]


def test_legend_at_a_level_says_how_it_is_aggregated(rclient: TestClient) -> None:
    body = rclient.get("/layers/choropleth.built_up_fraction/2024/legend.json?level=kab").json()
    assert body["level"] == "kab"
    assert body["aggregation"] == "area-weighted mean over the clear area"
    assert sum(entry["count"] for entry in body["legend"]) == 2  # two kab/kota
    village = rclient.get("/layers/choropleth.built_up_fraction/2024/legend.json").json()
    assert village["level"] == "village" and sum(e["count"] for e in village["legend"]) == 20


def test_layers_list_levels_and_aggregation(rclient: TestClient) -> None:
    layers = {layer["id"]: layer for layer in rclient.get("/layers").json()}
    built = layers["choropleth.built_up_fraction"]
    assert built["levels"] == ["province", "kab", "kecamatan", "village"]
    assert built["aggregation"]["province"] == "area-weighted mean over the clear area"
    assert layers["choropleth.valid_fraction"]["aggregation"]["kab"] == "area-weighted mean"
    assert layers["choropleth.ndvi_p10"]["levels"] == ["village"]
    assert layers["choropleth.idm.status_idm_2024"]["levels"] == ["village"]
    poverty = layers["choropleth.poverty.p0_persen_2021"]["aggregation"]
    assert poverty["kab"] == "own value" and poverty["kecamatan"] == "kab value"
    assert poverty["province"] == "area-weighted mean of kab values"


# --------------------------------------------------------------------------- /regions


@pytest.mark.parametrize(
    ("kode", "level", "child_level", "children"),
    [("34", "province", "kab", 2), ("3404", "kab", "kecamatan", 4),
     ("34.04.07", "kecamatan", "village", 3)],
)  # fmt: skip
def test_region_of_each_level(
    rclient: TestClient, villages: gpd.GeoDataFrame, kode: str, level: str, child_level: str,
    children: int,
) -> None:  # fmt: skip
    body = rclient.get(f"/regions/{kode}").json()
    code = kode.replace(".", "")
    assert body["kode"] == code and body["level"] == level and body["nama"]
    assert set(body["periods"]) == {"2023", "2024"}
    assert body["periods"]["2024"]["built_up_fraction"] == pytest.approx(
        clear_mean(villages, code, "2024", "built_up_fraction")
    )
    kids = body["children"]
    assert kids["level"] == child_level and kids["count"] == children
    assert len(kids["kodes"]) == children and not kids["truncated"]
    # the summary agrees with the children's own values
    values = [
        rclient.get(f"/regions/{k}").json()["periods"]["2024"]["built_up_fraction"]
        for k in kids["kodes"]
    ]
    values = [v for v in values if v is not None]
    summary = kids["statistics"]["2024"]["built_up_fraction"]
    assert summary["count"] == len(values)
    assert summary["min"] == pytest.approx(min(values))
    assert summary["median"] == pytest.approx(float(np.median(values)))
    assert summary["max"] == pytest.approx(max(values))
    assert set(kids["statistics"]["2024"]) == {"built_up_fraction", "ndvi_mean", "valid_fraction"}


def test_region_names_come_from_the_master_list(rclient: TestClient) -> None:
    assert rclient.get("/regions/3404").json()["nama"] == "Kabupaten Sleman"
    assert rclient.get("/regions/34").json()["nama"] == "Daerah Istimewa Yogyakarta"


def test_village_through_regions_and_villages(rclient: TestClient) -> None:
    region = rclient.get(f"/regions/{CATURTUNGGAL}").json()
    village = rclient.get(f"/villages/{CATURTUNGGAL}").json()
    assert region["level"] == "village" and "children" not in region
    assert {k: v for k, v in region.items() if k != "level"} == village


@pytest.mark.parametrize("kode", ["3499", "35", "340499"])
def test_unknown_region_is_404(rclient: TestClient, kode: str) -> None:
    response = rclient.get(f"/regions/{kode}")
    assert response.status_code == 404
    assert response.json()["parameter"] == "kode"


@pytest.mark.parametrize("kode", ["3", "340", "34040720", "abcd", "34.0407"])
def test_malformed_region_code_is_400(rclient: TestClient, kode: str) -> None:
    response = rclient.get(f"/regions/{kode}")
    assert response.status_code == 400 and response.json()["parameter"] == "kode"


def test_region_refuses_unknown_parameters(rclient: TestClient) -> None:
    response = rclient.get("/regions/34?url=/etc/passwd")
    assert response.status_code == 400 and response.json()["parameter"] == "url"


def test_region_levels_need_regions_parquet(client: TestClient) -> None:
    response = client.get("/regions/3404")
    assert response.status_code == 404 and "regions.parquet" in response.json()["detail"]


# --------------------------------------------------------------------------- scale


def test_layers_are_built_once_per_version(
    region_products: Path, tmp_path: Path, make_client: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = Path(shutil.copytree(region_products, tmp_path / "p"))
    client = make_client(root)
    calls: list[str] = []
    original = tiles.listing.layer_entry

    def spy(request, cat, layer, **options):  # type: ignore[no-untyped-def]
        calls.append(layer.id)
        return original(request, cat, layer, **options)

    monkeypatch.setattr(tiles.listing, "layer_entry", spy)
    first = client.get("/layers").json()
    assert len(calls) == len(first)
    assert client.get("/layers").json() == first
    assert len(calls) == len(first)  # second call: nothing rebuilt
    shutil.copy(root / "indicators" / "idm.parquet", root / "indicators" / "idm_copy.parquet")
    again = client.get("/layers").json()  # a new products version: rebuilt
    assert len(calls) == len(first) + len(again) and len(again) > len(first)


def test_zoom_bands_are_simplified_at_scan_not_per_request(
    rclient: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("simplified during a request")

    monkeypatch.setattr(tiles.villages.shapely, "simplify", fail)
    for z in (3, 5, 8, 11, 14):
        x, y = tile_of(110.4, -7.8, z)[1:]
        for level in ("province", "kab", "kecamatan", "village"):
            url = f"/layers/choropleth.ndvi_mean/2023/tiles/{z}/{x}/{y}.pbf?level={level}"
            assert rclient.get(url).status_code in (200, 204)


def _densest_tiles(data: VillageData, z: int) -> list[tuple[int, int]]:
    """The 3 tiles at zoom z holding most polygon vertices."""
    import morecantile

    tms = morecantile.tms.get("WebMercatorQuad")
    lonlat = gpd.GeoSeries(data.geometry, crs="EPSG:3857").to_crs("EPSG:4326")
    points = lonlat.representative_point()
    weights = shapely.get_num_coordinates(data.geometry)
    tiles_ = [tms.tile(p.x, p.y, z) for p in points]
    counts = pd.Series(weights, index=[(t.x, t.y) for t in tiles_]).groupby(level=0).sum()
    return list(counts.sort_values(ascending=False).index[:3])


@pytest.mark.parametrize(
    "boundaries",
    ["desa_kel_34_diy.parquet", pytest.param("desa_kel_32_jawa_barat.parquet",
                                              marks=pytest.mark.slow)],
)  # fmt: skip
def test_mvt_over_the_densest_tiles_stays_small(shared_data: Path, boundaries: str) -> None:
    frame = gpd.read_parquet(shared_data / "boundaries" / boundaries)
    frame = frame[["kode_10", "nama", "geometry"]].rename(columns={"kode_10": "kode"})
    rng = np.random.default_rng(8)
    frame = frame.assign(period="2024", built_up_fraction=rng.uniform(0, 1, len(frame)))
    data = VillageData(frame, pd.DataFrame(index=pd.Index(sorted(frame["kode"]))))
    values = data.stats["2024"]["built_up_fraction"].to_numpy()
    codes = np.ones(len(values), dtype=np.uint8)
    for z in (11, 12, 13, 14):
        geometry = data.geometry_for_zoom(z)
        for x, y in _densest_tiles(data, z):
            bounds = tile_bounds(z, x, y)
            pad = (bounds[2] - bounds[0]) / 64
            indices = geometry.query((bounds[0] - pad, bounds[1] - pad,
                                      bounds[2] + pad, bounds[3] + pad))  # fmt: skip
            body = render_mvt(
                geometry.geoms, indices, bounds, kodes=data.kodes, names=data.names.to_numpy(),
                values=values, codes=codes, colors=("#ff0000",),
            )  # fmt: skip
            assert body is not None and len(body) < MVT_CAP, (z, x, y, len(body or b""))
