"""The ``pantau`` command line: thin; each command parses, calls one function, returns a code."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

from geo.errors import PantauError

__all__ = ["main", "build_parser"]

# Each module registers one sub-command with ``register(subparsers)`` and sets ``func``.
_COMMANDS = ("search", "run", "demo", "indicators", "serve", "plan", "catalog", "quality", "token")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command registered."""
    parser = argparse.ArgumentParser(
        prog="pantau",
        description="Village-level development indicators from Sentinel-2, served as maps.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"workflows.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"workflows.cli.{name}":
                continue
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``pantau`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:
        # rasterio.warp warns about its own in-memory destination on every warped read
        # (odc-stac's reads at a coarser grid); our files are georeferenced.
        warnings.filterwarnings("ignore", message="Dataset has no geotransform")
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except PantauError as exc:
        print(f"pantau {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"pantau {args.command}: interrupted; committed outputs are kept", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
