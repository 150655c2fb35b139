"""``pantau demo``: the whole pipeline on simulated Sentinel-2 scenes, offline."""

from __future__ import annotations

import argparse
from pathlib import Path

from workflows.cli.run import add_built_up_option, add_cluster_options

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    """Add the ``demo`` sub-command."""
    p = sub.add_parser(
        "demo",
        help="simulate Sentinel-2 scenes and run the pipeline (offline)",
        description="Simulate a Sentinel-2 L2A stack over villages with planted "
        "land cover and urban growth, run the pipeline, report how well the "
        "truth is recovered.",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR")
    p.add_argument(
        "--boundaries",
        type=Path,
        metavar="FILE",
        help="real village polygons (default: simulated villages, labelled as such)",
    )
    p.add_argument("--region", metavar="CODE", help="Kemendagri code prefix to keep")
    p.add_argument("--code-column", help="column with the village code (default: detect)")
    p.add_argument("--start", default="2021-01-01")
    p.add_argument("--end", default="2022-12-31")
    p.add_argument("--scenes-per-year", type=int, default=5)
    p.add_argument(
        "--villages",
        dest="n_villages",
        type=int,
        default=150,
        help="number of simulated villages without --boundaries",
    )
    p.add_argument("--seed", type=int, default=0)
    add_built_up_option(p)
    add_cluster_options(p)
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from workflows.demo import DemoConfig, demo

    result, rec = demo(
        DemoConfig(
            out=args.out,
            boundaries=args.boundaries,
            code_column=args.code_column,
            region=args.region,
            start=args.start,
            end=args.end,
            scenes_per_year=args.scenes_per_year,
            n_villages=args.n_villages,
            seed=args.seed,
            scheduler=args.scheduler,
            workers=args.workers,
            tile_size=args.tile_size,
            progress=args.progress,
            built_up=args.built_up,
        )
    )
    out = result.out
    print(f"simulated scenes: {out / 'scenes' / 'catalog.json'}")
    print(f"villages:   {result.villages_path}  ({rec.n_village_periods} village-periods)")
    print(f"composites: {out / 'composites'}")
    print(f"catalog:    {out / 'catalog' / 'collection.json'}")
    print(f"quality:    {out / 'quality.json'}")
    print(f"truth:      {out / 'truth.parquet'}")
    print(
        f"recovery ({args.built_up}): built_up_fraction MAE {rec.mae:.4f} "
        f"(max {rec.max_abs_error:.3f}, {rec.n_missing} missing); change sign right for "
        f"{rec.sign_agreement:.1%} of {rec.n_changed} villages with planted change > 0.10"
    )
    print(
        f"periods computed {result.computed or '-'}, reused {result.skipped or '-'}; "
        f"{result.seconds:.1f} s"
    )
    print(f"serve it: pantau serve --products {out}")
    return 0
