"""Errors of the scene simulator."""

from __future__ import annotations

from geo.errors import PantauError

__all__ = ["SimulationError"]


class SimulationError(PantauError):
    """A simulation cannot run with the given villages, dates or output folder."""
