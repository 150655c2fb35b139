"""Errors of the domain layer.

Every error Pantau raises on purpose derives from :class:`PantauError`, so the CLI and the
tile server can turn it into one clear message (exit code 2, or a 4xx answer) without a
traceback. Each class says in one line what went wrong; the message says what to fix.
"""

from __future__ import annotations

__all__ = [
    "PantauError",
    "GeoError",
    "InvalidCodeError",
    "BoundaryFileError",
    "IndicatorTableError",
]


class PantauError(Exception):
    """Base of every error Pantau raises on purpose."""


class GeoError(PantauError):
    """Base of the domain layer's errors."""


class InvalidCodeError(GeoError):
    """A region code is not a well-formed Kemendagri code."""


class BoundaryFileError(GeoError):
    """A boundary file cannot be read, lacks a column, or has no usable CRS."""


class IndicatorTableError(GeoError):
    """An indicator table cannot be read or joined."""
