"""Tile cache: an in-process LRU of encoded tiles, optionally backed by Redis.

The key of a tile is built by :func:`tile_key` from everything that changes its bytes:
layer id, period, z/x/y, format, the normalised query parameters (after validation, so
``rescale=0,1`` and ``rescale=0.0,1.0`` are one entry) and the products version token (a
hash of the names, sizes and mtimes of the product files). When a product or an indicator
table changes, the version changes, so no stale tile can be found under the new key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.responses import Response

__all__ = [
    "CachedTile",
    "TileCache",
    "MemoryCache",
    "RedisCache",
    "LayeredCache",
    "build_cache",
    "tile_key",
    "cached_response",
    "DEFAULT_CACHE_BYTES",
]

#: Bytes of encoded tiles a memory cache holds at most by default (``cache_bytes``).
DEFAULT_CACHE_BYTES = 256 * 1024 * 1024

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedTile:
    """An encoded tile: status 200 with bytes, or 204 (empty)."""

    status: int
    media_type: str
    body: bytes

    def dumps(self) -> bytes:
        """Serialise for Redis."""
        head = json.dumps({"s": self.status, "m": self.media_type}).encode()
        return head + b"\n" + self.body

    @classmethod
    def loads(cls, raw: bytes) -> CachedTile:
        """Inverse of :meth:`dumps`."""
        head, _, body = raw.partition(b"\n")
        meta = json.loads(head)
        return cls(int(meta["s"]), str(meta["m"]), body)


class TileCache(Protocol):
    """What the tile endpoints need from a cache."""

    def get(self, key: str) -> CachedTile | None:
        """The cached tile or None."""

    def set(self, key: str, tile: CachedTile) -> None:
        """Store a tile."""


class MemoryCache:
    """Thread-safe LRU of at most ``maxsize`` tiles and ``max_bytes`` of bodies (0 disables it).

    Both caps hold whatever clients ask for: a flood of distinct tiles evicts the least
    recently used ones, and a body larger than ``max_bytes`` is not kept at all.
    """

    def __init__(self, maxsize: int, max_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self.nbytes = 0
        self._data: OrderedDict[str, CachedTile] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._data)

    def get(self, key: str) -> CachedTile | None:
        """The cached tile or None; marks it recently used."""
        with self._lock:
            tile = self._data.get(key)
            if tile is not None:
                self._data.move_to_end(key)
            return tile

    def set(self, key: str, tile: CachedTile) -> None:
        """Store a tile, evicting the least recently used ones."""
        if self.maxsize <= 0 or len(tile.body) > self.max_bytes:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.nbytes -= len(old.body)
            self._data[key] = tile
            self.nbytes += len(tile.body)
            while len(self._data) > self.maxsize or self.nbytes > self.max_bytes:
                _, evicted = self._data.popitem(last=False)
                self.nbytes -= len(evicted.body)


class RedisCache:
    """Tiles in Redis with a TTL; any Redis error is logged and treated as a miss."""

    def __init__(self, client: Any, *, ttl: int, prefix: str = "pantau:tile:") -> None:
        self.client = client
        self.ttl = ttl
        self.prefix = prefix

    def get(self, key: str) -> CachedTile | None:
        """The cached tile or None."""
        try:
            raw = self.client.get(self.prefix + key)
            return CachedTile.loads(raw) if raw else None
        except Exception:  # a cache outage must not fail the tile
            logger.warning("redis cache get failed", exc_info=True)
            return None

    def set(self, key: str, tile: CachedTile) -> None:
        """Store a tile with the TTL."""
        try:
            self.client.setex(self.prefix + key, self.ttl, tile.dumps())
        except Exception:
            logger.warning("redis cache set failed", exc_info=True)


class LayeredCache:
    """Memory first, then a shared cache; hits from the shared cache are kept in memory."""

    def __init__(self, local: MemoryCache, shared: TileCache) -> None:
        self.local = local
        self.shared = shared

    def get(self, key: str) -> CachedTile | None:
        """The cached tile or None."""
        tile = self.local.get(key)
        if tile is None:
            tile = self.shared.get(key)
            if tile is not None:
                self.local.set(key, tile)
        return tile

    def set(self, key: str, tile: CachedTile) -> None:
        """Store in both caches."""
        self.local.set(key, tile)
        self.shared.set(key, tile)


def build_cache(
    size: int, url: str | None, ttl: int, *, max_bytes: int = DEFAULT_CACHE_BYTES
) -> TileCache:
    """The cache the settings ask for; Redis only when ``url`` is set and redis is installed."""
    local = MemoryCache(size, max_bytes)
    if not url:
        return local
    try:
        import redis  # type: ignore[import-not-found]
    except ImportError:
        logger.warning("cache_url is set but the redis package is not installed; memory only")
        return local
    return LayeredCache(local, RedisCache(redis.Redis.from_url(url), ttl=ttl))


def tile_key(
    *,
    layer: str,
    period: str,
    z: int,
    x: int,
    y: int,
    fmt: str,
    params: dict[str, Any],
    version: str,
) -> str:
    """Cache key of one tile (a hex digest, safe for Redis)."""
    raw = json.dumps(
        [layer, period, z, x, y, fmt, sorted(params.items()), version],
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(raw.encode()).hexdigest()


def cached_response(
    cache: TileCache,
    key: str,
    render: Callable[[], CachedTile],
    *,
    fresh: bool,
    slot: Callable[[], AbstractContextManager[Any]] = nullcontext,
    private: bool = False,
) -> Response:
    """Answer from the cache (``X-Cache: HIT``) or render, store and answer (``MISS``).

    ``fresh`` says the request named the current products version (``v=``), so clients
    may keep the tile; otherwise they must revalidate. A miss renders inside ``slot()``
    (a render slot of :class:`tiles.shedding.RenderLimiter`, which may refuse with 503).
    A ``private`` tile (of a sensitive layer, :mod:`tiles.sensitive`) is rendered every
    time, never looked up or stored in the cache, and answered ``private, no-store``
    (``X-Cache: BYPASS``).
    """
    tile = None if private else cache.get(key)
    state = "HIT"
    if tile is None:
        with slot():
            tile = render()
        state = "BYPASS" if private else "MISS"
        if not private:
            cache.set(key, tile)
    headers = {
        "X-Cache": state,
        "Cache-Control": "public, max-age=86400" if fresh else "no-cache",
    }
    if private:
        headers.update({"Cache-Control": "private, no-store", "Vary": "Authorization"})
    if tile.status == 204:
        return Response(status_code=204, headers=headers)
    return Response(tile.body, media_type=tile.media_type, headers=headers)
