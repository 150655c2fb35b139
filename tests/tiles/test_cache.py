"""Tile cache: HIT/MISS, normalised keys, and no stale tile after the products change."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

import tiles.app
from geo.products import PRODUCTS
from tests.tiles.conftest import UNIT, tile_of
from tiles.cache import CachedTile, LayeredCache, MemoryCache, RedisCache, build_cache, tile_key
from tiles.catalogue import CLASS_CACHE_SIZE

Z, X, Y = tile_of(110.385, -7.76, 13)
CHORO = f"/layers/choropleth.built_up_fraction/2024/tiles/{Z}/{X}/{Y}.png"
NDVI = f"/layers/raster.ndvi/2024/tiles/{Z}/{X}/{Y}.png"
MVT = f"/layers/choropleth.built_up_fraction/2024/tiles/{Z}/{X}/{Y}.pbf"


def _bump(path: Path) -> None:
    """Make sure the mtime moves even on coarse-grained filesystems."""
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))


@pytest.mark.parametrize("url", [CHORO, NDVI, MVT])
def test_miss_then_hit(products_dir: Path, make_client, url: str) -> None:
    client = make_client(products_dir)
    first, second = client.get(url), client.get(url)
    assert first.status_code == second.status_code == 200
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert first.content == second.content


def test_options_are_part_of_the_key(products_dir: Path, make_client) -> None:
    client = make_client(products_dir)
    assert client.get(NDVI).headers["x-cache"] == "MISS"
    assert client.get(NDVI + "?colormap_name=viridis").headers["x-cache"] == "MISS"
    assert client.get(NDVI + "?tilesize=512").headers["x-cache"] == "MISS"
    assert client.get(CHORO + "?n_classes=3").headers["x-cache"] == "MISS"


def test_key_uses_normalised_options(products_dir: Path, make_client) -> None:
    client = make_client(products_dir)
    lo, hi = PRODUCTS["ndvi"].rescale[0]  # the layer's default
    assert client.get(NDVI + f"?rescale={lo},{hi}").headers["x-cache"] == "MISS"
    assert client.get(NDVI + f"?rescale={lo:.3f},{hi:.4f}").headers["x-cache"] == "HIT"
    assert client.get(NDVI).headers["x-cache"] == "HIT"  # the default is the same rescale
    assert client.get(CHORO + "?n_classes=5&classification=quantile").headers["x-cache"] == "MISS"
    assert client.get(CHORO + "?classification=quantile&n_classes=5").headers["x-cache"] == "HIT"
    assert client.get(CHORO).headers["x-cache"] == "HIT"


def test_empty_tiles_are_cached(products_dir: Path, make_client) -> None:
    client = make_client(products_dir)
    z, x, y = tile_of(106.8, -6.2, 12)
    url = f"/layers/raster.ndvi/2024/tiles/{z}/{x}/{y}.png"
    assert client.get(url).status_code == client.get(url).status_code == 204
    assert client.get(url).headers["x-cache"] == "HIT"


def test_changed_villages_are_not_served_stale(mutable_products: Path, make_client) -> None:
    client = make_client(mutable_products)
    before = client.get(CHORO)
    assert client.get(CHORO).headers["x-cache"] == "HIT"
    path = mutable_products / "villages.parquet"
    frame = gpd.read_parquet(path)
    frame["built_up_fraction"] = 1 - frame["built_up_fraction"]
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp)
    os.replace(tmp, path)  # the way `pantau run` writes
    _bump(path)
    after = client.get(CHORO)
    assert after.headers["x-cache"] == "MISS"
    assert after.content != before.content


def test_changed_raster_is_not_served_stale(mutable_products: Path, make_client) -> None:
    client = make_client(mutable_products)
    before = client.get(NDVI)
    assert client.get(NDVI).headers["x-cache"] == "HIT"
    folder = mutable_products / "composites" / "2024" / UNIT
    shutil.copy(folder / "bsi.tif", folder / "ndvi.tmp")
    os.replace(folder / "ndvi.tmp", folder / "ndvi.tif")
    _bump(folder / "ndvi.tif")
    after = client.get(NDVI)
    assert after.headers["x-cache"] == "MISS"
    assert after.content != before.content


def test_new_indicator_is_served_and_invalidates(mutable_products: Path, make_client) -> None:
    client = make_client(mutable_products)
    assert client.get(CHORO).headers["x-cache"] == "MISS"
    assert client.get(CHORO).headers["x-cache"] == "HIT"
    ids = {layer["id"] for layer in client.get("/layers").json()}
    assert "choropleth.sanitasi.layak_persen" not in ids
    table = pd.DataFrame({"kode": ["3471", "3404"], "level": "kabkota", "layak_persen": [95, 80]})
    table.to_parquet(mutable_products / "indicators" / "sanitasi.parquet", index=False)
    ids = {layer["id"] for layer in client.get("/layers").json()}
    assert "choropleth.sanitasi.layak_persen" in ids
    assert client.get(CHORO).headers["x-cache"] == "MISS"  # new version, new key
    village = client.get("/villages/3471031004").json()
    assert village["indicators"]["sanitasi.layak_persen"] == 95
    url = CHORO.replace("built_up_fraction", "sanitasi.layak_persen")
    assert client.get(url).status_code == 200


def test_removed_period_is_404(mutable_products: Path, make_client) -> None:
    client = make_client(mutable_products)
    assert client.get(NDVI).status_code == 200
    shutil.rmtree(mutable_products / "composites" / "2024" / UNIT)
    response = client.get(NDVI)
    assert response.status_code == 404 and response.json()["parameter"] == "period"


def test_rescan_interval_delays_the_check(mutable_products: Path, make_client) -> None:
    client = make_client(mutable_products, rescan_interval=3600)
    version = client.get("/healthz").json()["version"]
    _bump(mutable_products / "villages.parquet")
    assert client.get("/healthz").json()["version"] == version


def test_cache_size_zero_disables_the_cache(products_dir: Path, make_client) -> None:
    client = make_client(products_dir, cache_size=0)
    assert client.get(CHORO).headers["x-cache"] == client.get(CHORO).headers["x-cache"] == "MISS"


def test_memory_cache_is_lru() -> None:
    cache = MemoryCache(2)
    tiles = [CachedTile(200, "image/png", bytes([i])) for i in range(3)]
    cache.set("a", tiles[0])
    cache.set("b", tiles[1])
    assert cache.get("a") == tiles[0]  # a is now the most recent
    cache.set("c", tiles[2])
    assert cache.get("b") is None and cache.get("a") == tiles[0] and len(cache) == 2


def test_tile_key_depends_on_every_part() -> None:
    base = dict(layer="raster.ndvi", period="2024", z=1, x=0, y=1, fmt="png",
                params={"a": 1}, version="v1")  # fmt: skip
    keys = {tile_key(**base)}
    for field, value in [
        ("layer", "raster.ndbi"),
        ("period", "2023"),
        ("z", 2),
        ("x", 1),
        ("y", 0),
        ("fmt", "pbf"),
        ("params", {"a": 2}),
        ("version", "v2"),
    ]:
        keys.add(tile_key(**{**base, field: value}))
    assert len(keys) == 9
    assert tile_key(**{**base, "params": {"b": 1, "a": 1}}) == tile_key(
        **{**base, "params": {"a": 1, "b": 1}}
    )


class FakeRedis:
    """The two calls RedisCache makes, on a dict shared by the apps of a test."""

    def __init__(self, store: dict[str, bytes]) -> None:
        self.store = store
        self.ttls: list[int] = []

    def get(self, key: str) -> bytes | None:
        return self.store.get(key)

    def setex(self, key: str, ttl: int, value: bytes) -> None:
        self.ttls.append(ttl)
        self.store[key] = value


class BrokenRedis:
    def get(self, key: str) -> bytes:
        raise ConnectionError("down")

    def setex(self, key: str, ttl: int, value: bytes) -> None:
        raise ConnectionError("down")


def test_redis_is_shared_between_apps(
    products_dir: Path, make_client, monkeypatch: pytest.MonkeyPatch
) -> None:
    shared: dict[str, bytes] = {}

    def fake_build(size: int, url: str | None, ttl: int, **_: object) -> LayeredCache:
        return LayeredCache(MemoryCache(size), RedisCache(FakeRedis(shared), ttl=ttl))

    monkeypatch.setattr(tiles.app, "build_cache", fake_build)
    first = make_client(products_dir, cache_url="redis://cache:6379/0")
    second = make_client(products_dir, cache_url="redis://cache:6379/0")
    a = first.get(CHORO)
    b = second.get(CHORO)
    assert (a.headers["x-cache"], b.headers["x-cache"]) == ("MISS", "HIT")
    assert a.content == b.content
    assert all(k.startswith("pantau:tile:") for k in shared)


def test_redis_outage_is_a_miss_not_an_error() -> None:
    cache = LayeredCache(MemoryCache(4), RedisCache(BrokenRedis(), ttl=10))
    tile = CachedTile(200, "image/png", b"x")
    cache.set("k", tile)  # logged, not raised
    assert cache.get("k") == tile  # from memory
    assert RedisCache(BrokenRedis(), ttl=10).get("k") is None


def test_cached_tile_round_trip() -> None:
    tile = CachedTile(200, "image/png", b"\x89PNG\n\x00binary\n")
    assert CachedTile.loads(tile.dumps()) == tile


def test_build_cache_without_redis_package_is_memory_only() -> None:
    cache = build_cache(16, "redis://localhost:6379/0", 60)
    try:
        import redis  # noqa: F401
    except ImportError:
        assert isinstance(cache, MemoryCache)
    else:  # pragma: no cover - redis installed
        assert isinstance(cache, LayeredCache)
    assert isinstance(build_cache(16, None, 60), MemoryCache)


def test_classification_cache_is_bounded(products_dir: Path, make_client) -> None:
    client = make_client(products_dir)
    legend = "/layers/choropleth.ndvi_mean/2024/legend.json?breaks={:.4f}"
    for i in range(1000):  # client-chosen breaks: each one a new classification
        assert client.get(legend.format(-0.5 + i / 1000)).status_code == 200
    cached = client.app.state.pantau.store.current()._classes
    assert len(cached) == CLASS_CACHE_SIZE == 256
    # the most recent classification is kept, the oldest went first
    assert any(params.breaks == (0.499,) for _, params in cached)
    assert not any(params.breaks == (-0.5,) for _, params in cached)
