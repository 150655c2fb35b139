"""Access to sensitive layers: the role x layer x endpoint matrix, and what each part does.

The products are the tile tests' own plus ``regions.parquet`` and a sensitive table added
through ``add_indicator_table(privacy=PrivacySpec(...))`` (``tests/tiles/access_support.py``).
Every documented GET operation is probed (:func:`access_support.probes` reads the app's
OpenAPI document) for every layer of :data:`access_support.LAYERS` and every role of
:func:`access_support.make_roles`: anonymous, valid tokens for every region, a province, a
kab/kota (query and header), a valid token of another province, and expired, tampered
(payload widened, signature altered), foreign-secret and malformed tokens.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mapbox_vector_tile
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.tiles.access_support import (
    IN_KAB,
    LAYERS,
    NAMES,
    OUT_KAB,
    SECRET,
    SHARE,
    SMALL,
    STATUS,
    TABLE,
    Probe,
    Role,
    build_access_products,
    make_roles,
    probes,
    published_values,
)
from tests.tiles.conftest import pixel_of, png, tile_of, village_point
from tiles.access import Keyring, issue_token
from tiles.app import create_app
from tiles.cache import CachedTile, MemoryCache
from tiles.legend import SUPPRESSED_COLOR, SUPPRESSED_HATCH_COLOR, hex_to_rgba
from tiles.settings import TilesSettings

ROLES = make_roles()
PRIVATE = "private, no-store"
SENSITIVE_LAYER = f"choropleth.{TABLE}.{SHARE}"


class SpyCache:
    """The app's memory cache, recording which probe stored each key."""

    def __init__(self, inner: MemoryCache) -> None:
        self.inner = inner
        self.current = ""
        self.stored: list[tuple[str, str]] = []

    def get(self, key: str) -> CachedTile | None:
        return self.inner.get(key)

    def set(self, key: str, tile: CachedTile) -> None:
        self.stored.append((self.current, key))
        self.inner.set(key, tile)


@pytest.fixture(scope="module")
def access_products(products_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_access_products(products_dir, tmp_path_factory.mktemp("access") / "products")


@pytest.fixture(scope="module")
def app(access_products: Path):
    app = create_app(
        TilesSettings(products_dir=access_products, rescan_interval=3600, token_secret=SECRET)
    )
    app.state.pantau.cache = SpyCache(app.state.pantau.cache)
    return app


@pytest.fixture(scope="module")
def client(app) -> TestClient:
    return TestClient(app)


@pytest.fixture(scope="module")
def values(access_products: Path) -> dict[str, str]:
    """Every published sensitive value (as text) -> the code of its village or region."""
    return published_values(access_products)


@pytest.fixture(scope="module")
def matrix(client: TestClient, access_products: Path) -> list[Probe]:
    return probes(client.get("/openapi.json").json(), access_products)


def _send(client: TestClient, probe: Probe, role: Role) -> Any:
    query, headers = role.auth()
    return client.get(probe.url, params={**probe.query, **query}, headers=headers)


def _readable(response: Any) -> str:
    """The body as text to search: JSON, CSV and XML as they are, MVT decoded."""
    media = response.headers.get("content-type", "")
    if media.startswith("application/vnd.mapbox-vector-tile"):
        return json.dumps(mapbox_vector_tile.decode(response.content), default=str)
    if media.startswith(("application/json", "text/", "application/xml")):
        return response.text
    return ""


def _leaks(text: str, values: dict[str, str], scope: str | None) -> list[str]:
    """Sensitive names (without a valid token) and values outside ``scope`` in a body."""
    found = []
    if scope is None:
        lower = text.lower()
        found += [f"name {n!r}" for n in NAMES if n.lower() in lower]
    for value, kode in values.items():
        if (scope is None or not kode.startswith(scope)) and value in text:
            found.append(f"value {value} of {kode}")
    return found


def _expected(probe: Probe, role: Role, anonymous: int) -> set[int]:
    """The statuses a role may get for a probe."""
    kode = probe.kode or ""
    if probe.kind == "public":
        return {anonymous}  # the token changes nothing
    if not role.valid:
        if role.token is None:
            return {401} if probe.kind == "layer" else {anonymous}
        return {400} if probe.kind == "place" and anonymous == 400 else {401}
    scope = role.scope or ""
    if probe.kind == "place":
        if anonymous == 400:
            return {400}
        return {anonymous} if kode.startswith(scope) else {403}
    if probe.kind == "layer" and kode and not (kode.startswith(scope) or scope.startswith(kode)):
        return {403}  # a table of a region outside the scope
    return {200, 204} if probe.kind == "layer" else {200}


def _check(probe: Probe, role: Role, response: Any, anonymous: Any, values: dict) -> list[str]:
    """What is wrong with one answer of the matrix."""
    problems = []
    status, cache = response.status_code, response.headers.get("cache-control", "")
    expected = _expected(probe, role, anonymous.status_code)
    if status not in expected:
        problems.append(f"status {status}, expected {sorted(expected)}")
    readable = _readable(response)
    problems += _leaks(readable, values, None if not role.valid else role.scope)
    if probe.kind == "public":
        problems += _leaks(readable, values, None)  # never anything sensitive
        if PRIVATE in cache:
            problems.append("a public answer marked private")
        return problems
    if status in (401, 403) and response.json().get("parameter") != "token":
        problems.append(f"a {status} that does not name the token")
    if role.valid and status in (200, 204) and PRIVATE not in cache:
        problems.append(f"a sensitive answer without {PRIVATE!r} ({cache!r})")
    if role.valid and status == 200 and probe.kind == "listing" and TABLE not in readable:
        problems.append("a token holder's listing without the sensitive layers")
    mvt = response.headers.get("content-type", "").startswith("application/vnd.mapbox")
    if role.valid and mvt and status == 200:
        features = mapbox_vector_tile.decode(response.content)["villages"]["features"]
        kodes = [str(f["properties"]["kode"]) for f in features]
        outside = [k for k in kodes if not k.startswith(role.scope or "")]
        if outside:
            problems.append(f"features outside the scope: {outside[:5]}")
    return problems


def _run(client: TestClient, matrix: list[Probe], role: Role, values: dict) -> list[str]:
    """Send every probe as ``role`` (and as anonymous, to compare); the problems found."""
    spy = client.app.state.pantau.cache
    failures = []
    for probe in matrix:
        spy.current = f"{probe.kind}:anonymous:{probe.label}"
        anonymous = _send(client, probe, ROLES[0])
        spy.current = f"{probe.kind}:{role.name}:{probe.label}"
        response = _send(client, probe, role)
        found = _check(probe, role, response, anonymous, values)
        failures += [f"{probe.label}: {problem}" for problem in found]
    return failures


@pytest.mark.parametrize("role", ROLES, ids=[r.name for r in ROLES])
def test_no_unauthorised_read(
    client: TestClient, matrix: list[Probe], values: dict[str, str], role: Role
) -> None:
    failures = _run(client, matrix, role, values)
    assert not failures, f"{len(failures)} problems, e.g.\n" + "\n".join(failures[:25])
    assert len(matrix) > 80  # every operation x layer x variant, not a handful


def test_the_matrix_finds_a_planted_leak(
    access_products: Path,
    matrix: list[Probe],
    values: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Positive control: with sensitivity switched off, anonymous reads are reported."""
    import tiles.catalogue

    monkeypatch.setattr(tiles.catalogue.Catalogue, "is_sensitive", lambda *a, **k: False)
    app = create_app(
        TilesSettings(products_dir=access_products, rescan_interval=3600, token_secret=SECRET)
    )
    app.state.pantau.cache = SpyCache(app.state.pantau.cache)
    failures = _run(TestClient(app), matrix, ROLES[0], values)
    assert any("name 'dtsen'" in f for f in failures)
    assert any("value 0." in f for f in failures)
    assert any("status 200, expected [401]" in f for f in failures)


def test_the_matrix_covers_every_operation_and_layer(matrix: list[Probe], client) -> None:
    doc = client.get("/openapi.json").json()
    assert {p.operation for p in matrix} == set(doc["paths"])
    kinds = {(p.operation, p.kind) for p in matrix}
    for path in doc["paths"]:
        if "{layer_id}" in path:
            assert {(path, "layer"), (path, "public")} <= kinds, path
    assert {p.layer.name for p in matrix if p.layer} == {layer.name for layer in LAYERS}


def test_no_sensitive_tile_enters_the_cache(
    client: TestClient, app, matrix: list[Probe], values: dict[str, str]
) -> None:
    spy = app.state.pantau.cache
    for role in ROLES[:4]:  # anonymous, all, province, kab: authorised renders included
        for probe in matrix:
            if "/tiles/" in probe.url:
                spy.current = f"{probe.kind}:{role.name}:{probe.label}"
                _send(client, probe, role)
    sensitive = {key for label, key in spy.stored if label.startswith("layer:")}
    assert not sensitive, "tiles of sensitive layers were stored in the cache"
    assert any(label.startswith("public:") for label, _ in spy.stored)  # the spy sees stores
    cached = [spy.inner.get(key) for _, key in spy.stored]
    for tile in cached:
        if tile is not None and tile.media_type.startswith("application/vnd.mapbox"):
            text = json.dumps(mapbox_vector_tile.decode(tile.body), default=str)
            assert not _leaks(text, values, None)


# --------------------------------------------------------------------------- public layers


@pytest.mark.parametrize("role", [ROLES[0], ROLES[1], ROLES[6]], ids=lambda r: r.name)
@pytest.mark.parametrize("layer", ["raster.ndvi", "choropleth.idm.nilai_idm_2024"])
def test_public_tiles_stay_open_and_cacheable(client: TestClient, role: Role, layer: str) -> None:
    version = client.get("/healthz").json()["version"]
    z, x, y = tile_of(*village_point(client.app.state.pantau.settings.products_dir, IN_KAB), 13)
    query, headers = role.auth()
    url = f"/layers/{layer}/2024/tiles/{z}/{x}/{y}.png"
    first = client.get(url, params={**query, "v": version}, headers=headers)
    again = client.get(url, params={**query, "v": version}, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.headers["cache-control"] == "public, max-age=86400"
    assert again.headers["x-cache"] == "HIT"


def test_public_tilejson_does_not_carry_a_token(client: TestClient) -> None:
    token = ROLES[1].token
    body = client.get("/layers/raster.ndvi/2024/tilejson.json", params={"token": token}).json()
    assert "token" not in body["tiles"][0]


# --------------------------------------------------------------------------- what a token shows


def _token(scope: str, seconds: int = 3600) -> str:
    return issue_token(Keyring([SECRET]), scope=scope, expires=int(time.time()) + seconds)


def test_listing_shows_sensitive_layers_only_with_a_token(client: TestClient) -> None:
    anonymous = [layer["id"] for layer in client.get("/layers").json()]
    assert SENSITIVE_LAYER not in anonymous and "choropleth.idm.nilai_idm_2024" in anonymous
    token = _token("3404")
    response = client.get("/layers", params={"token": token})
    listed = {layer["id"]: layer for layer in response.json()}
    assert response.headers["cache-control"] == PRIVATE
    entry = listed[SENSITIVE_LAYER]
    assert entry["sensitive"] is True and entry["scope"] == "3404"
    assert entry["tilejson"].endswith(f"tilejson.json?token={token}")
    assert f"choropleth.{TABLE}.suppressed" not in listed  # the flag is a class, not a map
    # the public listing is the same for everyone
    assert [e for e in listed.values() if not e.get("sensitive")] == client.get("/layers").json()


def test_healthz_counts_public_layers_only(client: TestClient) -> None:
    public = client.get("/layers").json()
    everything = client.get("/layers", params={"token": _token("")}).json()
    assert len(everything) > len(public)  # there are sensitive layers to hide
    assert client.get("/healthz").json()["layers"] == len(public)


def test_tilejson_carries_the_token_into_tile_urls(client: TestClient) -> None:
    token = _token("34")
    url = f"/layers/{SENSITIVE_LAYER}/2024/tilejson.json"
    body = client.get(url, params={"token": token}).json()
    assert f"token={token}" in body["tiles"][0]
    header = client.get(url, headers={"Authorization": f"Bearer {token}"}).json()
    assert "token" not in header["tiles"][0]  # a header stays a header


def test_wmts_lists_sensitive_layers_with_the_token_in_their_urls(client: TestClient) -> None:
    assert TABLE not in client.get("/wmts/WMTSCapabilities.xml").text
    token = _token("3404")
    response = client.get("/wmts/WMTSCapabilities.xml", params={"token": token})
    assert response.headers["cache-control"] == PRIVATE
    assert f"{SENSITIVE_LAYER}/2024/tiles/{{TileMatrix}}/{{TileCol}}/{{TileRow}}.png?token=" in (
        response.text
    )


@pytest.mark.parametrize(("kode", "scope", "status"), [
    (IN_KAB, "3404", 200), (IN_KAB, "34", 200), (OUT_KAB, "3404", 403), (OUT_KAB, "", 200),
])  # fmt: skip
def test_village_fields_need_a_token_covering_the_village(
    client: TestClient, kode: str, scope: str, status: int
) -> None:
    public = client.get(f"/villages/{kode}").json()
    assert not any(k.startswith(f"{TABLE}.") for k in public["indicators"])
    assert "idm.nilai_idm_2024" in public["indicators"] or kode.startswith("3471")
    response = client.get(f"/villages/{kode}", headers={"Authorization": f"Bearer {_token(scope)}"})
    assert response.status_code == status
    if status == 200:
        fields = response.json()["indicators"]
        assert {f"{TABLE}.{SHARE}", f"{TABLE}.{STATUS}", f"{TABLE}.suppressed"} <= set(fields)
        assert fields[f"{TABLE}.suppressed"] is False
        assert response.headers["cache-control"] == PRIVATE
    else:
        assert response.json() == {
            "detail": f"token: this token covers {scope} only; {kode} is outside it",
            "parameter": "token",
        }


def test_a_region_above_the_scope_is_refused(client: TestClient) -> None:
    token = _token("3404")
    assert client.get("/regions/3404", params={"token": token}).status_code == 200
    assert client.get("/regions/340407", params={"token": token}).status_code == 200
    assert client.get("/regions/34", params={"token": token}).status_code == 403
    province = client.get("/regions/34", params={"token": _token("34")}).json()
    assert province["indicators"][f"{TABLE}.{SHARE}"] is not None


def test_suppressed_villages_and_regions_are_flagged(client: TestClient) -> None:
    token = _token("")
    village = client.get(f"/villages/{SMALL[0]}", params={"token": token}).json()
    assert village["indicators"][f"{TABLE}.suppressed"] is True
    assert village["indicators"][f"{TABLE}.{SHARE}"] is None
    suppressed = client.get("/regions/340407", params={"token": token}).json()["indicators"]
    assert suppressed[f"{TABLE}.suppressed"] is True  # 3404072003 is small; its kecamatan too


def test_legend_lists_the_suppressed_class(client: TestClient, access_products: Path) -> None:
    body = client.get(
        f"/layers/{SENSITIVE_LAYER}/2024/legend.json", params={"token": _token("")}
    ).json()
    last = body["legend"][-1]
    assert last["suppressed"] is True and last["color"] == SUPPRESSED_COLOR
    assert set(last["titles"]) == {"id", "en"} and "privacy" in last["titles"]["en"]
    import pandas as pd

    flags = pd.read_parquet(access_products / "indicators" / f"{TABLE}.parquet")["suppressed"]
    assert last["count"] == int(flags.sum()) >= len(SMALL)
    assert sum(e["count"] for e in body["legend"]) == len(flags)
    scoped = client.get(
        f"/layers/{SENSITIVE_LAYER}/2024/legend.json", params={"token": _token("3404")}
    ).json()
    assert sum(e["count"] for e in scoped["legend"]) == 8  # the Sleman villages only


def test_a_suppressed_village_is_drawn_as_its_own_class(
    client: TestClient, access_products: Path
) -> None:
    lon, lat = village_point(access_products, SMALL[1])
    z, x, y = tile_of(lon, lat, 14)
    response = client.get(
        f"/layers/{SENSITIVE_LAYER}/2024/tiles/{z}/{x}/{y}.png",
        params={"token": _token(""), "level": "village"},
    )
    image = png(response.content)
    row, col = pixel_of(lon, lat, z, x, y)
    window = image[:3, row - 3 : row + 3, col - 3 : col + 3].reshape(3, -1).T
    greys = {tuple(hex_to_rgba(c)[:3]) for c in (SUPPRESSED_COLOR, SUPPRESSED_HATCH_COLOR)}
    assert {tuple(int(v) for v in px) for px in window} <= greys
    assert len({tuple(int(v) for v in px) for px in window}) == 2  # grey and its hatching


def test_a_scoped_token_draws_only_its_villages(client: TestClient, access_products: Path) -> None:
    for kode, inside in ((IN_KAB, True), (OUT_KAB, False)):
        lon, lat = village_point(access_products, kode)
        z, x, y = tile_of(lon, lat, 13)
        url = f"/layers/{SENSITIVE_LAYER}/2024/tiles/{z}/{x}/{y}.png"
        everything = client.get(url, params={"token": _token(""), "level": "village"})
        scoped = client.get(url, params={"token": _token("3404"), "level": "village"})
        row, col = pixel_of(lon, lat, z, x, y)
        assert png(everything.content)[3, row, col] == 255
        alpha = png(scoped.content)[3, row, col] if scoped.status_code == 200 else 0
        assert bool(alpha == 255) == inside


def test_a_scoped_token_sees_no_region_above_its_scope(client: TestClient) -> None:
    z, x, y = tile_of(110.39, -7.77, 6)  # province level
    url = f"/layers/{SENSITIVE_LAYER}/2024/tiles/{z}/{x}/{y}.pbf"
    assert client.get(url, params={"token": _token("34")}).status_code == 200
    assert client.get(url, params={"token": _token("3404")}).status_code == 204


def test_table_holds_the_scope_and_the_suppression_flag(client: TestClient) -> None:
    url = f"/layers/{SENSITIVE_LAYER}/2024/table.csv"
    response = client.get(url, params={"token": _token("3404"), "region": "34", "lang": "en"})
    rows = response.text.lstrip("\ufeff").splitlines()
    assert rows[0].endswith("suppressed to protect privacy")
    assert len(rows) == 9 and all(r.startswith("3404") for r in rows[1:])
    assert any(r.startswith(SMALL[0]) and r.endswith(",true") for r in rows)
    assert response.headers["cache-control"] == PRIVATE


@pytest.mark.parametrize(
    "option", ["breaks=0.1,0.2", "classification=equal_interval", "n_classes=3"]
)
@pytest.mark.parametrize("endpoint", ["tilejson.json", "legend.json", "tiles/12/3300/2120.png"])
def test_sensitive_layers_take_no_client_classes(
    client: TestClient, option: str, endpoint: str
) -> None:
    url = f"/layers/{SENSITIVE_LAYER}/2024/{endpoint}"
    name, _, value = option.partition("=")
    response = client.get(url, params={name: value, "token": _token("")})
    assert response.status_code == 400
    assert response.json()["parameter"] == name
    assert client.get(url, params={name: value}).status_code == 401  # the token comes first


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("role", "detail"), [
    ("anonymous", "needs an access token"), ("expired", "expired at"),
    ("tampered_payload", "signature does not match"),
    ("tampered_signature", "signature does not match"),
    ("wrong_secret", "secret this server does not have"),
    ("malformed", "not a Pantau access token"),
])  # fmt: skip
def test_refusals_say_why(client: TestClient, role: str, detail: str) -> None:
    chosen = next(r for r in ROLES if r.name == role)
    query, headers = chosen.auth()
    response = client.get(f"/layers/{SENSITIVE_LAYER}/2024/legend.json", params=query)
    assert response.status_code == 401
    assert detail in response.json()["detail"] and response.json()["parameter"] == "token"
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["cache-control"] == PRIVATE


def test_a_proxy_basic_authorization_is_not_a_token(client: TestClient) -> None:
    response = client.get("/layers", headers={"Authorization": "Basic dXNlcjpwYXNz"})
    assert response.status_code == 200 and TABLE not in response.text


@pytest.fixture
def no_secret_client(access_products: Path) -> Iterator[TestClient]:
    yield TestClient(create_app(TilesSettings(products_dir=access_products, rescan_interval=0)))


def test_without_a_secret_sensitive_layers_are_not_served(no_secret_client: TestClient) -> None:
    client = no_secret_client
    assert TABLE not in client.get("/layers").text
    assert TABLE not in client.get("/wmts/WMTSCapabilities.xml").text
    response = client.get(f"/layers/{SENSITIVE_LAYER}/2024/tilejson.json")
    assert response.status_code == 404
    assert "no token secret" in response.json()["detail"]
    assert response.json()["parameter"] == "layer_id"
    assert not any(
        k.startswith(TABLE) for k in client.get(f"/villages/{IN_KAB}").json()["indicators"]
    )
    refused = client.get(f"/villages/{IN_KAB}", params={"token": _token("")})
    assert refused.status_code == 401 and "no token secret" in refused.json()["detail"]


def test_a_bad_secret_stops_the_server_at_start_up(access_products: Path) -> None:
    from tiles.access import SecretError

    with pytest.raises(SecretError, match="at least 32 characters"):
        create_app(TilesSettings(products_dir=access_products, token_secret="short"))


def test_the_document_declares_401_and_403(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    for path, item in doc["paths"].items():
        op = item["get"]
        if any(p["name"] == "token" for p in op.get("parameters", [])):
            assert "401" in op["responses"], path
            assert op["responses"]["401"]["headers"]["WWW-Authenticate"]["required"]
    for path in ("/villages/{kode}", "/regions/{kode}", "/layers/{layer_id}/{period}/table.csv"):
        assert "403" in doc["paths"][path]["get"]["responses"], path


def test_classes_of_a_scope_come_from_its_values(app, client: TestClient) -> None:
    cat = app.state.pantau.store.current()
    layer = cat.layer(SENSITIVE_LAYER)
    values = cat.villages.indicators[f"{TABLE}.{SHARE}"]
    inside = values[values.index.str.startswith("3404")].dropna()
    body = client.get(f"/layers/{SENSITIVE_LAYER}", params={"token": _token("3404")}).json()
    assert body["range"] == [float(inside.min()), float(inside.max())]
    assert all(inside.min() <= b <= inside.max() for b in body["breaks"])
    assert np.isfinite(body["breaks"]).all() and layer.kind == "choropleth"


@pytest.mark.parametrize(
    "url", ["/layers", f"/villages/{IN_KAB}", "/regions/3404", "/wmts/WMTSCapabilities.xml"]
)
def test_anonymous_answers_shaped_by_a_token_vary_on_it(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["vary"] == "Authorization"  # a shared cache keeps them apart
    assert PRIVATE not in response.headers.get("cache-control", "")
