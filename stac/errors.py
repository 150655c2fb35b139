"""Errors of the STAC layer."""

from __future__ import annotations

from geo.errors import PantauError

__all__ = ["StacError", "StacSourceError", "RadiometryError"]


class StacError(PantauError):
    """Base of the STAC layer's errors."""


class StacSourceError(StacError):
    """A STAC source (API URL, local catalog, named service) cannot be used."""


class RadiometryError(StacError):
    """An item's radiometric metadata cannot be interpreted."""
