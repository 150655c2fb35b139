"""Pantau STAC layer: search Sentinel-2 L2A scenes, parse them, load pixels, publish products."""

from __future__ import annotations

__all__: list[str] = []
