"""Settings of a workflow run (env prefix ``PANTAU_WORKFLOW_``); passed down, never global."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from geo.tiling import DEFAULT_TILE_SIZE

__all__ = ["WorkflowSettings"]


class WorkflowSettings(BaseSettings):
    """Defaults of ``pantau run``; every field can be set as ``PANTAU_WORKFLOW_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="PANTAU_WORKFLOW_", frozen=True)

    resolution: float = Field(10.0, gt=0, le=1000, description="analysis grid size (m)")
    chunk: int = Field(1024, ge=256, le=8192, description="dask chunk size (pixels)")
    max_cloud: float = Field(30.0, ge=0, le=100, description="max eo:cloud_cover of scenes (%)")
    groupby: str = Field("solar_day", description="odc-stac grouping of same-day items")
    plausibility_resolution: float = Field(
        160.0, gt=0, description="grid size (m) of the per-scene radiometry plausibility check"
    )
    exclude_implausible: bool = Field(
        True, description="leave scenes whose pixels contradict their offset metadata out"
    )
    low_coverage: float = Field(
        0.5, ge=0, le=1, description="valid_fraction below which quality.json lists a village"
    )
    memory_limit: str = Field("auto", description="memory limit of each local Dask worker")
    tile_size: int = Field(
        DEFAULT_TILE_SIZE,
        ge=256,
        multiple_of=256,
        description="work-unit tile side in pixels at `resolution` (multiple of 256; "
        "2048 fits a 4 GB worker, see docs/scale.md)",
    )
    overview_zoom: int = Field(
        9,
        ge=0,
        le=14,
        description="web-mercator zoom whose pixel size the overviews/ COGs have (9: ~300 m); "
        "the tile server reads them up to PANTAU_TILES_OVERVIEW_MAX_ZOOM",
    )
    read_retries: int = Field(
        2,
        ge=0,
        le=10,
        description="re-reads of a scene whose read failed (and GDAL's retries of each HTTP "
        "request on 429/5xx/timeouts) before the scene is excluded (check) or its unit fails",
    )
    read_retry_delay: float = Field(
        1.0, ge=0, description="seconds before the first re-read; doubles at each one"
    )
    read_timeout: float = Field(
        30.0, gt=0, description="seconds an HTTP request for scene pixels may take (GDAL)"
    )
    max_failed_scene_share: float = Field(
        0.2,
        ge=0,
        le=1,
        description="share of a period's scenes that may be unreadable (and left out) "
        "before the run stops with an error, computing nothing",
    )
    max_in_flight: int | None = Field(
        None,
        ge=1,
        description="work units submitted to the cluster at once (default: 2 per worker thread)",
    )
