"""Settings of the STAC layer (env prefix ``PANTAU_STAC_``); built by callers, never at import."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["StacSettings"]


class StacSettings(BaseSettings):
    """Where to search for Sentinel-2 L2A scenes and how much to fetch.

    Every field can be set from the environment, e.g. ``PANTAU_STAC_MAX_ITEMS=200``.
    """

    model_config = SettingsConfigDict(env_prefix="PANTAU_STAC_", frozen=True, extra="ignore")

    earth_search_url: str = Field(
        default="https://earth-search.aws.element84.com/v1",
        description="STAC API behind `--stac earth-search`.",
    )
    planetary_computer_url: str = Field(
        default="https://planetarycomputer.microsoft.com/api/stac/v1",
        description="STAC API behind `--stac planetary-computer`.",
    )
    default_collection: str = Field(
        default="sentinel-2-c1-l2a",
        description="Collection searched on Earth Search and other STAC APIs.",
    )
    planetary_computer_collection: str = Field(
        default="sentinel-2-l2a",
        description="Collection searched on Planetary Computer.",
    )
    max_items: int = Field(default=5000, gt=0, description="Cap on the items one search returns.")
    page_size: int = Field(default=100, gt=0, le=1000, description="Items requested per API page.")
    timeout: float = Field(
        default=60.0, gt=0, description="HTTP timeout of API requests, in seconds."
    )
    max_retries: int = Field(
        default=4,
        ge=0,
        le=20,
        description="Retries of a failed API request (429, 5xx, timeout, lost connection, "
        "truncated JSON) before the search stops with an error.",
    )
    backoff_base: float = Field(
        default=0.5,
        ge=0,
        description="Backoff between retries: the first at once, the n-th after "
        "base x 2^(n-1) seconds.",
    )
    backoff_max: float = Field(
        default=30.0, ge=0, description="Longest wait between two retries, in seconds."
    )
    retry_after_max: float = Field(
        default=60.0,
        ge=0,
        description="Longest server-requested wait (Retry-After) honoured, in seconds.",
    )
