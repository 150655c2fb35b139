"""``pantau plan``: the work units of a run and what they cost, without reading a pixel.

Units come from :func:`geo.tiling.plan_units`. Per unit the plan gives its villages, pixels,
scenes (searched in the STAC source when asked, else ``scenes_per_year`` x years), values to
read (pixels x scenes x loaded bands), peak memory (:func:`geo.tiling.unit_memory_bytes`) and
seconds = pixels x scenes / throughput. The wall time on N workers is
``max(total / N, slowest unit)`` (a lower bound), and at most ``total / N + slowest unit``
(Graham's bound for any greedy schedule of independent tasks).
"""

from __future__ import annotations

import json
import logging
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Final

import geopandas as gpd

from geo.codes import LEVEL_LENGTHS, kemendagri_codes, normalize_code, normalize_codes
from geo.tiling import LOADED_BANDS, Unit, plan_units, unit_memory_bytes
from workflows.errors import WorkflowError
from workflows.settings import WorkflowSettings

__all__ = [
    "DEFAULT_SCENES_PER_YEAR",
    "DEFAULT_THROUGHPUT",
    "Plan",
    "PlanConfig",
    "UnitPlan",
    "WallTime",
    "plan",
    "read_plan_boundaries",
    "throughput_from_run",
]

log = logging.getLogger(__name__)

#: Pixel-scenes per second of one worker (2 threads): ``pantau demo --scenes-per-year 20``
#: on this 2-core machine, 2001 x 2001 px x 19 scenes in 40.5 s (docs/scale.md).
DEFAULT_THROUGHPUT: Final = 1.88e6
#: Scenes a unit composites per year when the source is not searched: Sentinel-2 A+B pass
#: every 5 days (73 a year), about half of them under the default 30 % cloud cover.
DEFAULT_SCENES_PER_YEAR: Final = 40
#: Memory of one worker the plan checks units against (a 2-core, 4 GB worker).
DEFAULT_WORKER_MEMORY: Final = 4 * 10**9
_CODE_COLUMNS: Final = ("kode_10", "kode_desa", "kode_digits", "kode", "kdepum", "code")
_LEVELS: Final = {n: level for level, n in LEVEL_LENGTHS.items()}


@dataclass(frozen=True)
class PlanConfig:
    """What to plan: boundaries, region, dates, source, grid and throughput."""

    boundaries: Path
    region: str | None = None
    code_column: str | None = None
    start: str | None = None
    end: str | None = None
    stac: str | None = None
    collection: str | None = None
    max_cloud: float | None = None
    tile_size: int | None = None
    workers: tuple[int, ...] = (1, 10, 100)
    throughput: float | None = None
    from_run: Path | None = None
    scenes_per_year: float = DEFAULT_SCENES_PER_YEAR
    worker_memory: int = DEFAULT_WORKER_MEMORY


@dataclass(frozen=True)
class UnitPlan:
    """One unit of the plan."""

    id: str
    epsg: int
    bbox: tuple[float, float, float, float]
    boundaries: int
    villages: int
    width: int
    height: int
    pixels: int
    scenes: int
    values: int
    memory_bytes: int
    seconds: float


@dataclass(frozen=True)
class WallTime:
    """Estimated wall time on ``workers`` workers, in hours."""

    workers: int
    hours: float
    hours_upper: float


@dataclass(frozen=True)
class Plan:
    """Units, volume and time of a run."""

    boundaries: str
    level: str
    n_boundaries: int
    n_villages: int
    tile_size: int
    resolution: float
    start: str | None
    end: str | None
    scenes_from: str
    throughput: float
    throughput_from: str
    units: tuple[UnitPlan, ...]
    wall: tuple[WallTime, ...]
    worker_memory: int
    notes: tuple[str, ...] = field(default=())

    @property
    def pixels(self) -> int:
        """Pixels of all unit grids."""
        return sum(u.pixels for u in self.units)

    @property
    def values(self) -> int:
        """Values to read: pixels x scenes x loaded bands, over all units."""
        return sum(u.values for u in self.units)

    @property
    def worker_hours(self) -> float:
        """Sum of the unit times: what the run costs in worker-hours."""
        return sum(u.seconds for u in self.units) / 3600

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (``pantau plan --json``)."""
        villages = [u.villages for u in self.units]
        head = asdict(self)
        head.pop("units")
        head.pop("wall")
        return {
            **head,
            "notes": list(self.notes),
            "n_units": len(self.units),
            "villages_per_unit": _spread(villages),
            "pixels": self.pixels,
            "values": self.values,
            "bytes_to_read": self.values * 2,
            "max_memory_bytes": max((u.memory_bytes for u in self.units), default=0),
            "units_over_memory": sum(u.memory_bytes > self.worker_memory for u in self.units),
            "worker_hours": self.worker_hours,
            "wall": [asdict(w) for w in self.wall],
            "units": [asdict(u) for u in self.units],
        }


def plan(config: PlanConfig, *, settings: WorkflowSettings | None = None) -> Plan:
    """Plan a run: read the boundaries, tile them, count scenes and estimate the time."""
    settings = settings or WorkflowSettings()
    tile_size = config.tile_size or settings.tile_size
    if tile_size < 256 or tile_size % 256:
        raise WorkflowError(f"tile size must be a multiple of 256 pixels, not {tile_size}")
    if any(n < 1 for n in config.workers):
        raise WorkflowError(f"worker counts must be >= 1, not {list(config.workers)}")
    years = _years(config.start, config.end)
    frame, level = read_plan_boundaries(
        config.boundaries, region=config.region, code_column=config.code_column
    )
    units = plan_units(frame, tile_size=tile_size, resolution=settings.resolution)
    notes: list[str] = []
    scenes, scenes_from = _scenes(config, units, years, settings, notes)
    throughput, throughput_from = _throughput(config)
    villages = _village_counts(units, level)
    if level != "desa":
        notes.append(
            f"boundaries are {level} polygons: units come from their home tiles and villages "
            "per unit are counted from the Kemendagri 2025 code list by code prefix"
        )
    rows = tuple(_unit_plan(u, villages[u.id], scenes[u.id], throughput) for u in units)
    total = sum(r.seconds for r in rows)
    slowest = max((r.seconds for r in rows), default=0.0)
    wall = tuple(
        WallTime(n, max(total / n, slowest) / 3600, (total / n + slowest) / 3600)
        for n in sorted(set(config.workers))
    )
    return Plan(
        boundaries=str(config.boundaries),
        level=level,
        n_boundaries=len(frame),
        n_villages=sum(villages.values()),
        tile_size=tile_size,
        resolution=settings.resolution,
        start=config.start,
        end=config.end,
        scenes_from=scenes_from,
        throughput=throughput,
        throughput_from=throughput_from,
        units=rows,
        wall=wall,
        worker_memory=config.worker_memory,
        notes=tuple(notes),
    )


def read_plan_boundaries(
    path: Path, *, region: str | None = None, code_column: str | None = None
) -> tuple[gpd.GeoDataFrame, str]:
    """Codes and geometries of a boundary file at any level (desa, kec, kab, prov), EPSG:4326.

    Lighter than :func:`geo.villages.load_villages`: the plan needs a code and an extent per
    feature, so points are accepted (their extent is the point) and geometries are not
    repaired. Returns the frame (``kode``, ``geometry``) and the level of its codes.
    """
    try:
        frame = gpd.read_parquet(path) if path.suffix == ".parquet" else gpd.read_file(path)
    except Exception as exc:  # pyogrio/pyarrow raise many types; the message is what matters
        raise WorkflowError(f"cannot read boundaries {path}: {exc}") from exc
    if frame.crs is None:
        raise WorkflowError(f"boundaries {path} have no CRS; set one (e.g. EPSG:4326)")
    columns = [code_column] if code_column else [c for c in _CODE_COLUMNS if c in frame]
    if not columns or columns[0] not in frame:
        raise WorkflowError(f"boundaries {path} have no code column ({', '.join(columns)})")
    codes, bad = normalize_codes(frame[columns[0]])
    lengths = codes[~bad].str.len()
    if lengths.empty:
        raise WorkflowError(f"no Kemendagri code in column {columns[0]!r} of {path}")
    length = int(lengths.mode().iloc[0])
    keep = (~bad & (codes.str.len() == length)).to_numpy()
    out = gpd.GeoDataFrame(
        {"kode": codes[keep].astype(str).to_numpy()},
        geometry=frame.geometry.values[keep],
        crs=frame.crs,
    )
    if region:
        prefix = normalize_code(region)
        out = out[out["kode"].str.startswith(prefix)]
        if out.empty:
            raise WorkflowError(f"no boundary in {path} has a code starting with {prefix}")
    out = out[~(out.geometry.isna() | out.geometry.is_empty)].to_crs(4326)
    if out["kode"].duplicated().any():
        out = out.dissolve(by="kode", as_index=False)
    return out.reset_index(drop=True), _LEVELS.get(length, f"{length}-digit")


def throughput_from_run(run_dir: Path) -> float:
    """Pixel-scenes per second per worker measured by a run: ``quality.json`` ``units``."""
    path = run_dir / "quality.json"
    try:
        quality = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise WorkflowError(f"cannot read {path}: {exc}") from exc
    records = quality.get("units") if isinstance(quality, dict) else None
    if not records:
        raise WorkflowError(
            f"{path} has no per-unit records ('units': [{{unit, pixels, scenes, seconds}}]); "
            "it was written by a run without work units. Pass --throughput PX_PER_S instead"
        )
    try:
        work = sum(float(r["pixels"]) * float(r["scenes"]) for r in records)
        seconds = sum(float(r["seconds"]) for r in records)
    except (KeyError, TypeError, ValueError) as exc:
        raise WorkflowError(
            f"{path}: a 'units' record lacks pixels, scenes or seconds ({exc})"
        ) from exc
    if seconds <= 0 or work <= 0:
        raise WorkflowError(f"{path}: the unit records add up to no work or no time")
    return work / seconds


def _years(start: str | None, end: str | None) -> float:
    if (start is None) != (end is None):
        raise WorkflowError("give both --start and --end, or neither (one year is assumed)")
    if start is None or end is None:
        return 1.0
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise WorkflowError(f"dates must be YYYY-MM-DD: {exc}") from exc
    if first > last:
        raise WorkflowError(f"start {first} is after end {last}")
    return ((last - first).days + 1) / 365.25


def _scenes(
    config: PlanConfig,
    units: list[Unit],
    years: float,
    settings: WorkflowSettings,
    notes: list[str],
) -> tuple[dict[str, int], str]:
    assumed = max(1, round(config.scenes_per_year * years))
    fallback = {u.id: assumed for u in units}
    label = f"assumed: {config.scenes_per_year:g} per year x {years:.2f} years"
    if not config.stac:
        return fallback, label
    if config.start is None or config.end is None:
        raise WorkflowError("--stac needs --start and --end to count scenes")
    from stac.errors import StacSourceError
    from stac.parse import item_datetime
    from stac.search import open_client, search_scenes
    from stac.settings import StacSettings
    from stac.source import resolve_source

    stac_settings = StacSettings()
    source = resolve_source(config.stac, collection=config.collection, settings=stac_settings)
    try:
        client = None if source.is_local else open_client(source, settings=stac_settings)
        counts = {}
        for unit in units:
            items = search_scenes(
                source,
                bbox=unit.bbox,
                start=config.start,
                end=config.end,
                max_cloud=settings.max_cloud if config.max_cloud is None else config.max_cloud,
                client=client,
                settings=stac_settings,
            )
            # items of one day are mosaicked into one time step (groupby solar_day)
            counts[unit.id] = len({item_datetime(i).date() for i in items})
    except StacSourceError as exc:
        notes.append(f"scene search failed, scenes assumed instead: {exc}")
        return fallback, label
    return counts, f"searched in {source}"


def _throughput(config: PlanConfig) -> tuple[float, str]:
    if config.throughput is not None and config.from_run is not None:
        raise WorkflowError("give --throughput or --from-run, not both")
    if config.throughput is not None:
        if config.throughput <= 0:
            raise WorkflowError(f"throughput must be positive, not {config.throughput}")
        return float(config.throughput), "given"
    if config.from_run is not None:
        return throughput_from_run(config.from_run), f"measured in {config.from_run}"
    return DEFAULT_THROUGHPUT, "default (pantau demo on a 2-core machine, docs/scale.md)"


def _village_counts(units: list[Unit], level: str) -> dict[str, int]:
    if level == "desa":
        return {u.id: len(u.kodes) for u in units}
    n = len(next(iter(units)).kodes[0]) if units else 0
    per_prefix = Counter(code[:n] for code in kemendagri_codes("desa"))
    return {u.id: sum(per_prefix[k] for k in u.kodes) for u in units}


def _unit_plan(unit: Unit, villages: int, scenes: int, throughput: float) -> UnitPlan:
    height, width = (int(v) for v in unit.geobox.shape.yx)
    pixels = unit.pixels
    return UnitPlan(
        id=unit.id,
        epsg=unit.epsg,
        bbox=unit.bbox,
        boundaries=len(unit.kodes),
        villages=villages,
        width=width,
        height=height,
        pixels=pixels,
        scenes=scenes,
        values=pixels * scenes * LOADED_BANDS,
        memory_bytes=unit_memory_bytes(pixels, scenes),
        seconds=pixels * scenes / throughput,
    )


def _spread(values: list[int]) -> dict[str, float]:
    if not values:
        return {"min": 0, "median": 0, "max": 0}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}
