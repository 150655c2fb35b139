"""Run ``stac-api-validator`` offline (tests have no network); same arguments, same exit code.

Run with the STAC server's interpreter (``<venv>/bin/python tests/validate_stac_api.py
--root-url ...``). stac-validator downloads JSON schemas from schemas.stacspec.org; here the
STAC 1.1.0 core and GeoJSON schemas come from the copy pystac ships, so objects are checked
against the real core schemas. Schemas of STAC extensions have no offline copy in any
installed package, so objects are validated against the core schemas only (stac-validator's
``core`` mode); any other schema URL fails loudly instead of being skipped.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path
from typing import Any

import pystac.validation.jsonschemas as bundled
import stac_api_validator.validations as validations
import stac_validator.utilities as utilities
from stac_api_validator.__main__ import main
from stac_validator.stac_validator import StacValidate

ROOT = Path(bundled.__file__).parent
_LOCAL = (
    (
        re.compile(r"https://schemas\.stacspec\.org/v1\.1\.0/[a-z-]+/json-schema/([\w.-]+\.json)"),
        ROOT / "stac-spec" / "v1.1.0",
    ),
    (re.compile(r"https://geojson\.org/schema/([\w.-]+\.json)"), ROOT / "geojson"),
)
_online = utilities.fetch_and_parse_file


def offline_fetch(input_path: str, headers: Any = None) -> dict[str, Any]:
    """A schema from pystac's bundled copy; a local path as before; any other URL refused."""
    for pattern, folder in _LOCAL:
        match = pattern.fullmatch(input_path)
        if match and (folder / match[1]).exists():
            return _online(str(folder / match[1]))
    if input_path.startswith(("http://", "https://")):
        raise ValueError(f"schema {input_path} has no offline copy (tests run without network)")
    return _online(input_path)


utilities.fetch_and_parse_file = offline_fetch  # type: ignore[assignment]
validations.StacValidate = functools.partial(StacValidate, core=True)  # type: ignore[misc]

if __name__ == "__main__":
    sys.argv[0] = "stac-api-validator"
    sys.exit(main())
