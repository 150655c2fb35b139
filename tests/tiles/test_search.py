"""``GET /search`` and ``GET /regions?level=``: names and codes of the products' places.

The products are the session fixture (20 DIY villages) with some village names changed in a
copy, so the cases the endpoint exists for are present:

* ``Ngémplak`` (3471031003, was Klitren): an accented name;
* ``Sukamaju`` twice, in kecamatan Ngaglik of Kabupaten Sleman (3404122002) and Danurejan of
  Kota Yogyakarta (3471041002): same-named villages;
* ``Depok`` (3471041003), ``Depokan`` (3471021003) and ``Baru Depok`` (3471131001) beside
  the kecamatan Depok (340407): exact, name-prefix and word-prefix matches of "depok".

The index is also built over the whole Kemendagri 2025 master list (83,762 villages and
7,837 regions) and compared with a linear scan of the same names.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from fastapi.testclient import TestClient

import tiles.regions
from geo.codes import kemendagri_names
from tests.tiles.conftest import DESA, KELURAHAN
from tiles.app import create_app
from tiles.places import Place
from tiles.search_index import NameIndex, normalise
from tiles.settings import TilesSettings

NGEMPLAK = "3471031003"
SUKAMAJU = ("3404122002", "3471041002")
DEPOK_KEC, DEPOK, DEPOKAN, BARU_DEPOK = "340407", "3471041003", "3471021003", "3471131001"
CONDONGCATUR = "3404072003"
RENAMED = {
    NGEMPLAK: "Ngémplak",
    SUKAMAJU[0]: "Sukamaju",
    SUKAMAJU[1]: "Sukamaju",
    DEPOK: "Depok",
    DEPOKAN: "Depokan",
    BARU_DEPOK: "Baru Depok",
}


@pytest.fixture(scope="module")
def named_products(products_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(shutil.copytree(products_dir, tmp_path_factory.mktemp("search") / "p"))
    frame = gpd.read_parquet(root / "villages.parquet")
    frame["nama"] = [RENAMED.get(k, n) for k, n in zip(frame["kode"], frame["nama"], strict=True)]
    frame.to_parquet(root / "villages.parquet")
    return root


@pytest.fixture(scope="module")
def sclient(named_products: Path) -> TestClient:
    return TestClient(create_app(TilesSettings(products_dir=named_products, rescan_interval=0)))


def search(client: TestClient, q: str, **params: object) -> list[dict]:
    response = client.get("/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["query"] == q.strip()
    return body["results"]


def kodes(results: list[dict]) -> list[str]:
    return [r["kode"] for r in results]


# --------------------------------------------------------------------------- matching


@pytest.mark.parametrize(
    "q", ["Condongcatur", "condongcatur", "CONDONGCATUR", "condong", " Condong "]
)
def test_case_and_prefix(sclient: TestClient, q: str) -> None:
    assert kodes(search(sclient, q)) == [CONDONGCATUR]


@pytest.mark.parametrize("q", ["Ngémplak", "ngemplak", "NGEMPLAK", "ngé", "Nge\u0301mplak"])
def test_accents_are_ignored(sclient: TestClient, q: str) -> None:
    (found,) = search(sclient, q)
    assert found["kode"] == NGEMPLAK and found["name"] == "Ngémplak"


def test_word_prefix_but_not_inside_a_word(sclient: TestClient) -> None:
    (sleman,) = search(sclient, "sleman")
    assert sleman["kode"] == "3404" and sleman["name"] == "Kabupaten Sleman"
    assert sleman["level"] == "kabkota" and sleman["province"] == "Daerah Istimewa Yogyakarta"
    assert search(sclient, "tunggal") == []  # inside Caturtunggal, not a word of it
    assert kodes(search(sclient, "kabupaten sleman")) == ["3404"]
    assert kodes(search(sclient, "kabupaten-sleman")) == ["3404"]  # punctuation separates


def test_ranking_exact_then_prefix_then_word_coarser_first(sclient: TestClient) -> None:
    assert kodes(search(sclient, "depok")) == [DEPOK_KEC, DEPOK, DEPOKAN, BARU_DEPOK]


def test_same_named_villages_told_apart(sclient: TestClient) -> None:
    found = search(sclient, "sukamaju")
    assert sorted(kodes(found)) == sorted(SUKAMAJU)
    assert {(r["kecamatan"], r["kabkota"]) for r in found} == {
        ("Ngaglik", "Kabupaten Sleman"),
        ("Danurejan", "Kota Yogyakarta"),
    }
    assert all(r["name"] == "Sukamaju" for r in found)


@pytest.mark.parametrize(
    ("q", "first", "levels"),
    [
        ("34.04.07", DEPOK_KEC, ["kecamatan", "village", "village", "village"]),
        ("340407", DEPOK_KEC, ["kecamatan", "village", "village", "village"]),
        ("3404", "3404", None),
        ("34.04.07.2003", CONDONGCATUR, ["village"]),
        ("34", "34", None),
    ],
)
def test_code_prefix(sclient: TestClient, q: str, first: str, levels: list[str] | None) -> None:
    found = search(sclient, q, limit=20)
    digits = q.replace(".", "")
    assert found[0]["kode"] == first
    assert all(r["kode"].startswith(digits) for r in found)
    if levels is not None:
        assert [r["level"] for r in found] == levels
    order = ["province", "kabkota", "kecamatan", "village"]
    assert [order.index(r["level"]) for r in found] == sorted(
        order.index(r["level"]) for r in found
    )


def test_code_prefix_counts_villages_in_the_products(sclient: TestClient) -> None:
    found = search(sclient, "3471", limit=20)
    villages = [r for r in found if r["level"] == "village"]
    kecamatan = {k[:6] for k in KELURAHAN}
    assert len(found) == 1 + len(kecamatan) + min(len(KELURAHAN), 20 - 1 - len(kecamatan))
    assert {r["kode"] for r in villages} <= set(KELURAHAN)


def test_only_places_in_the_products(sclient: TestClient) -> None:
    assert search(sclient, "3401") == []  # Kulon Progo: in DIY, not in the products
    assert search(sclient, "Bantul") == []
    assert {r["kode"] for r in search(sclient, "3", limit=20)} <= {
        "34", "3404", "3471", *{k[:6] for k in KELURAHAN + DESA}, *KELURAHAN, *DESA
    }  # fmt: skip


def test_fields_bounds_and_center(sclient: TestClient, named_products: Path) -> None:
    (village,) = search(sclient, "condongcatur")
    assert set(village) == {
        "kode", "level", "name", "kecamatan", "kabkota", "province", "bounds", "center"
    }  # fmt: skip
    assert village["kecamatan"] == "Depok" and village["kabkota"] == "Kabupaten Sleman"
    assert village["bounds"] == sclient.get(f"/villages/{CONDONGCATUR}").json()["bounds"]
    frame = gpd.read_parquet(named_products / "villages.parquet")
    polygon = frame.loc[frame["kode"] == CONDONGCATUR, "geometry"].iloc[0]
    assert polygon.buffer(1e-6).contains(shapely.Point(village["center"]))
    (kecamatan,) = [r for r in search(sclient, "depok") if r["level"] == "kecamatan"]
    assert kecamatan["kecamatan"] is None and kecamatan["kabkota"] == "Kabupaten Sleman"
    boxes = [sclient.get(f"/villages/{k}").json()["bounds"] for k in DESA if k[:6] == DEPOK_KEC]
    union = [min(b[0] for b in boxes), min(b[1] for b in boxes),
             max(b[2] for b in boxes), max(b[3] for b in boxes)]  # fmt: skip
    assert kecamatan["bounds"] == pytest.approx(union)


def test_limit(sclient: TestClient) -> None:
    assert len(search(sclient, "3")) == 10
    assert len(search(sclient, "3", limit=3)) == 3
    assert len(search(sclient, "3", limit=20)) == 20


def test_index_follows_the_products(named_products: Path, tmp_path: Path) -> None:
    root = Path(shutil.copytree(named_products, tmp_path / "p"))
    client = TestClient(create_app(TilesSettings(products_dir=root, rescan_interval=0)))
    assert kodes(search(client, "sukamaju")) == list(SUKAMAJU)
    frame = gpd.read_parquet(root / "villages.parquet")
    frame.loc[frame["kode"] == SUKAMAJU[0], "nama"] = "Sukamulya"
    frame.to_parquet(root / "villages.parquet")  # a new products version
    assert kodes(search(client, "sukamaju")) == [SUKAMAJU[1]]
    assert kodes(search(client, "sukamul")) == [SUKAMAJU[0]]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ({"q": "a", "limit": 21}, "limit"),
        ({"q": "a", "limit": 0}, "limit"),
        ({"q": "a", "limit": -1}, "limit"),
        ({"q": "x" * 65}, "q"),
        ({"q": "x" * 60_000}, "q"),
        ({"q": ""}, "q"),
        ({"q": "   "}, "q"),
        ({"q": "\x00\x1b\u200b"}, "q"),
        ({}, "q"),
        ({"q": "a", "url": "/etc/passwd"}, "url"),
    ],
)
def test_bad_queries_are_400(sclient: TestClient, query: dict, parameter: str) -> None:
    response = sclient.get("/search", params=query)
    assert response.status_code == 400, response.text
    assert response.json()["parameter"] == parameter


def test_control_characters_are_dropped(sclient: TestClient) -> None:
    response = sclient.get("/search", params={"q": "Condong\x00cat\x1bur\u202e"})
    assert response.status_code == 200
    assert response.json()["query"] == "Condongcatur"
    assert kodes(response.json()["results"]) == [CONDONGCATUR]


@pytest.mark.parametrize(
    "q",
    ["/etc/passwd", "../../villages.parquet", "/vsicurl/http://example.com/a.tif", "%00",
     "'; DROP TABLE villages; --", "*", ".*", "\\", "...", "34.04.07.2003.9999", "x" * 64,
     "<VRTDataset>"],
)  # fmt: skip
def test_hostile_queries_find_nothing(sclient: TestClient, named_products: Path, q: str) -> None:
    response = sclient.get("/search", params={"q": q})
    assert response.status_code in (200, 400), response.text
    assert str(named_products) not in response.text and "Traceback" not in response.text
    if response.status_code == 200:
        assert response.json()["results"] == []


# --------------------------------------------------------------------------- /regions?level=


@pytest.mark.parametrize(
    ("level", "expected"),
    [("province", ["34"]), ("kabkota", ["3404", "3471"]), ("kab", ["3404", "3471"]),
     ("kecamatan", sorted({k[:6] for k in KELURAHAN + DESA}))],
)  # fmt: skip
def test_regions_of_a_level(sclient: TestClient, level: str, expected: list[str]) -> None:
    response = sclient.get("/regions", params={"level": level})
    assert response.status_code == 200
    regions = response.json()
    assert [r["kode"] for r in regions] == expected
    names = kemendagri_names(
        {"province": "provinsi", "kecamatan": "kecamatan"}.get(level, "kabkota")
    )
    for region in regions:
        assert set(region) == {"kode", "name", "level", "center", "bounds"}
        assert region["name"] == names[region["kode"]]
        w, s, e, n = region["bounds"]
        assert w <= region["center"][0] <= e and s <= region["center"][1] <= n


@pytest.mark.parametrize(
    "query", [{}, {"level": "village"}, {"level": "desa"}, {"level": "x" * 5000}]
)
def test_regions_level_is_validated(sclient: TestClient, query: dict) -> None:
    response = sclient.get("/regions", params=query)
    assert response.status_code == 400 and response.json()["parameter"] == "level"


def test_regions_list_is_capped(sclient: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tiles.regions, "MAX_REGIONS", 1)
    assert sclient.get("/regions", params={"level": "province"}).status_code == 200
    response = sclient.get("/regions", params={"level": "kabkota"})
    assert response.status_code == 400 and "more than the 1 listed" in response.json()["detail"]


def test_openapi_declares_the_answers(sclient: TestClient) -> None:
    paths = sclient.get("/openapi.json").json()["paths"]
    for path in ("/search", "/regions"):
        responses = paths[path]["get"]["responses"]
        assert "application/json" in responses["200"]["content"]
        assert "400" in responses


# --------------------------------------------------------------------------- master list

LEVELS = {"provinsi": "province", "kabkota": "kabkota", "kecamatan": "kecamatan", "desa": "village"}


@pytest.fixture(scope="module")
def national() -> NameIndex:
    places = [
        Place(kode, level, name)
        for code_level, level in LEVELS.items()
        for kode, name in kemendagri_names(code_level).items()  # type: ignore[arg-type]
    ]
    return NameIndex(places)


def test_master_list_size(national: NameIndex) -> None:
    assert len(kemendagri_names("desa")) == 83_762
    assert len(national) == 83_762 + 7_285 + 514 + 38


@pytest.mark.parametrize(
    "q",
    ["Condongcatur", "condong", "sleman", "Kabupaten Sleman", "sukamaju", "sumber sari",
     "kota", "s", "a", "ba'u", "Regapu’u", "jaya", "34.04.07", "3404", "3", "9999", "lang lang",
     "zzz"],
)  # fmt: skip
def test_index_matches_a_linear_scan(national: NameIndex, q: str) -> None:
    assert national.search(q, 20) == national.scan(q, 20)


def test_master_list_answers(national: NameIndex) -> None:
    assert [p.kode for p in national.search("condongcatur", 10)] == [CONDONGCATUR]
    depok = national.search("34.04.07", 5)
    assert [p.kode for p in depok] == [DEPOK_KEC, "3404072001", "3404072002", CONDONGCATUR]
    sukamaju = national.search("sukamaju", 20)
    assert len(sukamaju) == 20 and {normalise(p.name) for p in sukamaju} == {"sukamaju"}
    assert [p.level for p in sukamaju][:1] == ["kecamatan"]  # coarser level first on a tie
    sleman = national.search("sleman", 20)
    assert sleman[0].kode == "340413" and sleman[0].level == "kecamatan"  # exact name
    tiers = [0 if normalise(p.name) == "sleman" else 1 if normalise(p.name).startswith(
        "sleman") else 2 for p in sleman]  # fmt: skip
    assert tiers == sorted(tiers) and "3404" in [p.kode for p in sleman]
