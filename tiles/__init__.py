"""Pantau tile server (TiTiler/FastAPI) over the products a run writes."""

from __future__ import annotations

__all__: list[str] = []
