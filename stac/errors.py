"""Errors of the STAC layer."""

from __future__ import annotations

from geo.errors import PantauError

__all__ = [
    "AssetReadError",
    "RadiometryError",
    "StacError",
    "StacPagingError",
    "StacSourceError",
]


class StacError(PantauError):
    """Base of the STAC layer's errors."""


class StacSourceError(StacError):
    """A STAC source (API URL, local catalog, named service) cannot be used."""


class StacPagingError(StacSourceError):
    """A STAC API's search pages loop: a ``next`` link repeats one already followed."""


class RadiometryError(StacError):
    """An item's radiometric metadata cannot be interpreted."""


class AssetReadError(StacError):
    """A scene's asset cannot be read: missing, timed out, truncated or not a TIFF."""

    def __init__(self, message: str, *, kind: str = "read_error", asset: str | None = None):
        super().__init__(message)
        self.kind = kind
        self.asset = asset

    def __reduce__(self) -> tuple[object, ...]:  # pickles with its fields (Dask ships errors)
        return (type(self), (str(self),), {"kind": self.kind, "asset": self.asset})
