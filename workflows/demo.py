"""``pantau demo``: simulate Sentinel-2 L2A scenes, run the pipeline, check the truth.

Needs no network. The simulator plants land cover per village and urban growth between
years; the demo then runs ``pantau run`` on the simulated local catalog and measures how
well the planted built-up fractions and their changes are recovered.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo.atomic import write_json, write_parquet
from geo.unmixing import DEFAULT_METHOD
from geo.villages import VillageSet, load_villages
from simulate import simulate_scenes, simulate_villages
from workflows.run import RunConfig, RunResult, run
from workflows.settings import WorkflowSettings

__all__ = ["DemoConfig", "Recovery", "demo", "recovery"]

# The simulator plants scenes with up to ~50% cloud; analysts commonly accept that much when
# a median composite over several dates removes the rest.
DEMO_MAX_CLOUD = 60.0


@dataclass(frozen=True)
class DemoConfig:
    """Options of ``pantau demo``."""

    out: Path
    boundaries: Path | None = None
    code_column: str | None = None
    region: str | None = None
    start: str = "2021-01-01"
    end: str = "2022-12-31"
    scenes_per_year: int = 5
    n_villages: int = 150
    seed: int = 0
    scheduler: str | None = None
    workers: int | None = None
    tile_size: int | None = None
    progress: bool = True
    #: built-up method (geo.products.BUILT_UP_METHODS); None: the default registry's
    built_up: str | None = None


@dataclass(frozen=True)
class Recovery:
    """How well the run recovered the planted truth."""

    n_village_periods: int
    n_missing: int
    mae: float
    max_abs_error: float
    n_changed: int
    sign_agreement: float

    def to_dict(self) -> dict[str, float | int]:
        """JSON-friendly form."""
        return asdict(self)


def demo(
    config: DemoConfig, *, settings: WorkflowSettings | None = None
) -> tuple[RunResult, Recovery]:
    """Simulate, run, write ``truth.parquet`` and ``demo_report.json``; return the recovery."""
    out = Path(config.out)
    villages = _villages(config, out)
    sim = simulate_scenes(
        villages.villages,
        out,
        code_column="kode",
        start=config.start,
        end=config.end,
        scenes_per_year=config.scenes_per_year,
        seed=config.seed,
        progress=config.progress,
    )
    result = run(
        RunConfig(
            stac=str(sim.catalog_dir),
            out=out,
            start=config.start,
            end=config.end,
            period="year",
            max_cloud=DEMO_MAX_CLOUD,
            scheduler=config.scheduler,
            workers=config.workers,
            tile_size=config.tile_size,
            progress=config.progress,
            built_up=config.built_up,
        ),
        villages=villages,
        settings=settings,
    )
    truth = sim.truth.assign(period=sim.truth["year"].astype(str))[
        ["kode", "period", "built_up_fraction_true"]
    ]
    write_parquet(out / "truth.parquet", truth, index=False)
    rec = recovery(pd.read_parquet(out / "villages.parquet"), truth)
    report = {
        "recovery": rec.to_dict(),
        "built_up_method": config.built_up or DEFAULT_METHOD,
        "simulated_villages": config.boundaries is None,
        "scenes": list(sim.item_ids),
        "reused_scenes": sim.reused,
        "computed_periods": result.computed,
        "skipped_periods": result.skipped,
        "seconds": round(result.seconds, 2),
    }
    write_json(out / "demo_report.json", report)
    return result, rec


def recovery(stats: pd.DataFrame, truth: pd.DataFrame, *, min_change: float = 0.10) -> Recovery:
    """Built-up fraction error per village and period, and sign agreement of large changes."""
    m = truth.merge(
        stats[["kode", "period", "built_up_fraction"]], on=["kode", "period"], how="left"
    )
    err = (m["built_up_fraction"] - m["built_up_fraction_true"]).abs()
    m = m.sort_values(["kode", "period"])
    m["true_change"] = m.groupby("kode")["built_up_fraction_true"].diff()
    m["est_change"] = m.groupby("kode")["built_up_fraction"].diff()
    big = m[m["true_change"].abs() > min_change]
    agree = np.sign(big["est_change"]) == np.sign(big["true_change"])
    return Recovery(
        n_village_periods=len(m),
        n_missing=int(err.isna().sum()),
        mae=float(err.mean()),
        max_abs_error=float(err.max()),
        n_changed=len(big),
        sign_agreement=float(agree.mean()) if len(big) else float("nan"),
    )


def _villages(config: DemoConfig, out: Path) -> VillageSet:
    if config.boundaries is not None:
        return load_villages(
            config.boundaries, code_column=config.code_column, region=config.region
        )
    path = out / "simulated_villages.parquet"
    if not path.exists():
        gdf = simulate_villages(n=config.n_villages, seed=config.seed)
        write_parquet(path, gdf, index=False)
    return load_villages(path, code_column="kode", region=config.region)
