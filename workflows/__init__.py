"""Pantau workflows: the only place that builds a Dask client and calls compute."""

from __future__ import annotations

__all__: list[str] = []
