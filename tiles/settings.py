"""Settings of the tile server, read from ``PANTAU_TILES_*`` environment variables.

Settings are an object passed down (``create_app(settings)``), never read at import time.
Every field is listed in the README settings table.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["MAX_CLASSES", "TilesSettings", "TokenSettings"]

#: Hard cap on the number of classes of a choropleth (and so on the length of ``breaks``).
MAX_CLASSES = 9


def _cores() -> int:
    """CPU cores this process may run on (the affinity mask, not the host's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class TokenSettings(BaseSettings):
    """The secret(s) access tokens are signed with (env prefix ``PANTAU_TILES_``); shared by
    the tile server and ``pantau token``. Without any, sensitive layers are not served."""

    model_config = SettingsConfigDict(env_prefix="PANTAU_TILES_", extra="ignore")

    token_secret: SecretStr | None = Field(
        default=None,
        description="secret that signs access tokens for sensitive layers (32+ characters)",
    )
    token_secret_file: Path | None = Field(
        default=None,
        description="file of token secrets, one per line: the first signs, all verify "
        "(rotation); read at start-up",
    )

    def token_secrets(self) -> tuple[str | None, Path | None]:
        """(secret, secret file) as set; either may be None."""
        secret = self.token_secret.get_secret_value() if self.token_secret else None
        return secret or None, self.token_secret_file


class TilesSettings(TokenSettings):
    """Configuration of ``tiles.app:create_app`` (env prefix ``PANTAU_TILES_``)."""

    model_config = SettingsConfigDict(env_prefix="PANTAU_TILES_", extra="ignore")

    products_dir: Path = Field(description="products directory written by `pantau run`")
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins allowed by CORS, comma-separated in the environment; none by default",
    )
    cache_size: int = Field(
        default=2048, ge=0, le=1_000_000, description="tiles kept in memory (LRU)"
    )
    cache_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=0,
        description="bytes of encoded tiles kept in memory at most (with `cache_size`)",
    )
    cache_url: str | None = Field(
        default=None,
        description="redis://... shared tile cache (only used when `redis` is installed)",
    )
    cache_ttl: int = Field(
        default=86_400, ge=1, description="seconds a tile lives in the Redis cache"
    )
    max_tile_size: int = Field(
        default=512, ge=64, le=1024, description="largest `tilesize` accepted"
    )
    min_zoom: int = Field(default=0, ge=0, le=24, description="smallest zoom level served")
    max_zoom: int = Field(default=18, ge=0, le=24, description="largest zoom level served")
    overview_max_zoom: int = Field(
        default=9,
        ge=0,
        le=24,
        description="largest zoom whose raster tiles read the period's overviews/ COG "
        "(when there is one) instead of the work-unit COGs",
    )
    province_max_zoom: int = Field(
        default=6, ge=-1, le=24, description="village layers show provinces up to this zoom"
    )
    kab_max_zoom: int = Field(
        default=8, ge=-1, le=24, description="... then kab/kota up to this zoom"
    )
    kecamatan_max_zoom: int = Field(
        default=10, ge=-1, le=24, description="... then kecamatan up to this zoom, villages above"
    )
    classification: Literal["quantile", "equal_interval"] = Field(
        default="quantile", description="default classification of numeric choropleths"
    )
    n_classes: int = Field(
        default=5, ge=2, le=MAX_CLASSES, description="default number of choropleth classes (cap 9)"
    )
    rescan_interval: float = Field(
        default=2.0,
        ge=0,
        description="seconds between checks of the products directory for changes",
    )
    max_concurrent_renders: int = Field(
        default_factory=lambda: 2 * _cores(),
        ge=1,
        le=1024,
        description="tiles drawn at once (cache misses); default 2 x CPU cores",
    )
    max_waiting_renders: int = Field(
        default_factory=lambda: 4 * _cores(),
        ge=0,
        le=4096,
        description="tiles waiting for a render slot at most; more get 503 at once",
    )
    render_wait_seconds: float = Field(
        default=2.0,
        ge=0,
        le=60,
        description="longest a tile waits for a render slot (from its arrival) before 503",
    )
    attribution: str = Field(
        "Contains modified Copernicus Sentinel data; boundaries Kemendagri",
        max_length=300,
        description="attribution shown in TileJSON and WMTS",
    )

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("cache_url")
    @classmethod
    def _redis_only(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("cache_url must be a redis://, rediss:// or unix:// URL")
        return value or None

    @model_validator(mode="after")
    def _zoom_order(self) -> TilesSettings:
        if self.min_zoom > self.max_zoom:
            raise ValueError("min_zoom must not exceed max_zoom")
        if not self.province_max_zoom <= self.kab_max_zoom <= self.kecamatan_max_zoom:
            raise ValueError(
                "province_max_zoom <= kab_max_zoom <= kecamatan_max_zoom is required "
                "(-1 switches a level off)"
            )
        return self
