"""What the access tests share: products with a sensitive table, roles, and the probes.

:func:`build_access_products` copies the session products (tests/tiles/conftest.py), adds a
``regions.parquet`` (every level) and a sensitive table ``dtsen`` through the real
``pantau indicators add`` code path (:func:`geo.indicators.add_indicator_table` with a
:class:`~geo.privacy.PrivacySpec`): one row per fixture village with a household count (three
small ones, so suppression has work to do), a share with distinctive digits (``0.xxx0731``,
easy to find in a body and unlikely to occur by chance) and a category with distinctive
names. :data:`ROLES` are the readers of the matrix; :func:`probes` turns the app's OpenAPI
document into requests, so an endpoint added later is probed without editing the test.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.indicators import add_indicator_table
from geo.privacy import PrivacySpec
from tests.tiles.conftest import DESA, KELURAHAN, tile_of, village_point
from tiles.access import Keyring, issue_token
from workflows.regions import write_regions

SECRET = "pantau-access-test-secret-0123456789abcdef"
OTHER_SECRET = "another-server-secret-fedcba9876543210xyz"
TABLE = "dtsen"
COUNT, SHARE, STATUS = "n_households", "share_desil1", "status_bansos"
CATEGORIES = ("ALFAPKH_PENERIMA", "BETABPNT_PENERIMA", "GAMMAX_BUKAN")
#: Names that must never reach a reader without a valid token (compared case-insensitively).
NAMES = (TABLE, COUNT, SHARE, STATUS, *CATEGORIES)
#: A village of each kab/kota of the fixture, with its own value.
IN_KAB, OUT_KAB = "3404062001", "3471031001"  # both published (not suppressed)
SMALL = ("3404012005", "3404072003", "3471041003")  # fewer than k = 10 households


def build_access_products(source: Path, root: Path) -> Path:
    """The session products plus regions.parquet and the sensitive table ``dtsen``."""
    root = Path(shutil.copytree(source, root))
    write_regions(root, gpd.read_parquet(root / "villages.parquet"))
    kodes = sorted(KELURAHAN + DESA)
    rng = np.random.default_rng(20251128)
    counts = rng.integers(15, 90, len(kodes)).astype(float)
    for kode in SMALL:
        counts[kodes.index(kode)] = 3
    shares = [round(0.05 + 0.017 * i + 0.0000731, 7) for i in range(len(kodes))]
    table = pd.DataFrame(
        {
            "kode_desa": kodes,
            COUNT: counts,
            SHARE: shares,
            STATUS: [CATEGORIES[i % 3] for i in range(len(kodes))],
        }
    )
    path = root.parent / "dtsen.csv"
    table.to_csv(path, index=False)
    add_indicator_table(
        path, products_dir=root, name=TABLE, key="kode_desa", privacy=PrivacySpec(COUNT, k=10)
    )
    return root


def published_values(root: Path) -> dict[str, str]:
    """Every published numeric value of the sensitive table (rows and region rows), as the
    text a JSON or CSV body would hold, mapped to its code."""
    found = {}
    for name in (f"{TABLE}.parquet", f"{TABLE}.regions.parquet"):
        frame = pd.read_parquet(root / "indicators" / name)
        for kode, value in zip(frame["kode"], frame[SHARE], strict=True):
            if pd.notna(value):
                found[repr(float(value))] = str(kode)
    return found


# --------------------------------------------------------------------------- roles


@dataclass(frozen=True)
class Role:
    """A reader: the token it presents (and how), and the scope it may read (None: nothing)."""

    name: str
    token: str | None = None
    scope: str | None = None
    header: bool = False

    @property
    def valid(self) -> bool:
        """True for a valid token (whatever its scope)."""
        return self.scope is not None

    def auth(self) -> tuple[dict[str, str], dict[str, str]]:
        """(query, headers) carrying the token."""
        if self.token is None:
            return {}, {}
        if self.header:
            return {}, {"Authorization": f"Bearer {self.token}"}
        return {"token": self.token}, {}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_roles(now: float | None = None) -> list[Role]:
    """Every role of the matrix."""
    now = time.time() if now is None else now
    keys, other = Keyring([SECRET]), Keyring([OTHER_SECRET])
    hour = int(now) + 3600

    def token(scope: str, expires: int = hour, keyring: Keyring = keys) -> str:
        return issue_token(keyring, scope=scope, expires=expires)

    kab = token("3404")
    payload, _, signature = kab.partition(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    widened = _b64(json.dumps({**claims, "s": ""}, separators=(",", ":")).encode())
    flipped = signature[:-4] + ("AAAA" if signature[-4:] != "AAAA" else "BBBB")
    return [
        Role("anonymous"),
        Role("all", token(""), scope=""),
        Role("province", token("34"), scope="34"),
        Role("kab", kab, scope="3404"),
        Role("kab_header", kab, scope="3404", header=True),
        Role("wrong_region", token("35"), scope="35"),
        Role("expired", token("", int(now) - 60)),
        Role("tampered_payload", f"{widened}.{signature}"),
        Role("tampered_signature", f"{payload}.{flipped}"),
        Role("wrong_secret", token("", keyring=other)),
        Role("malformed", "not-a-token"),
        Role("malformed_header", "x" * 600, header=True),
    ]


# --------------------------------------------------------------------------- probes


@dataclass(frozen=True)
class Layer:
    """A layer of the matrix: its id, options every request of it takes, and whether it is
    sensitive (``column`` makes ``vector.villages`` sensitive only where it is taken)."""

    name: str
    id: str
    sensitive: bool
    formats: tuple[str, ...] = ("png", "pbf")
    column: str | None = None


LAYERS = (
    Layer("raster", "raster.ndvi", False, ("png",)),
    Layer("public_indicator", "choropleth.idm.nilai_idm_2024", False),
    Layer("sensitive", f"choropleth.{TABLE}.{SHARE}", True),
    Layer("sensitive_categories", f"choropleth.{TABLE}.{STATUS}", True),
    Layer("sensitive_bivariate", f"bivariate.built_up_fraction__{TABLE}.{SHARE}", True),
    Layer("sensitive_vector", "vector.villages", True, ("pbf",), column=f"{TABLE}.{SHARE}"),
)


@dataclass(frozen=True)
class Probe:
    """One request of the matrix."""

    operation: str  # the documented path
    url: str
    query: dict[str, str] = field(default_factory=dict)
    layer: Layer | None = None
    #: "layer" (a sensitive layer's own data), "place" (public + sensitive fields),
    #: "listing" (lists layers), "public" (nothing sensitive)
    kind: str = "public"
    #: the village or region a place/table request names
    kode: str | None = None

    @property
    def label(self) -> str:
        """Short text naming the probe in failures."""
        query = "&".join(f"{k}={v}" for k, v in self.query.items())
        return f"{self.url}{'?' + query if query else ''}"


def _tiles(root: Path) -> list[tuple[int, int, int, str | None]]:
    """(z, x, y, level): a village tile in each kab/kota, and a kab-level tile of both."""
    found = []
    for kode in (IN_KAB, OUT_KAB):
        found.append((*tile_of(*village_point(root, kode), 12), "village"))
    found.append((*tile_of(110.39, -7.77, 8), None))  # kab/kota by default at zoom 8
    return found


#: Fillers of path parameters by name; a parameter missing here fails the test that lists it.
def path_values(root: Path) -> dict[str, list[Any]]:
    """Values of each path parameter the matrix fills in (beside layer_id)."""
    return {
        "period": ["2024"],
        "kode": [IN_KAB, OUT_KAB, "34", "3404", "3471", "340407"],
        "zxy": _tiles(root),
        "format": ["png", "pbf"],
    }


#: Query parameters some operations need, by name (sent only where the document has them).
NEEDED_QUERY = {
    "/bivariate": [
        {"x": "built_up_fraction", "y": "idm.nilai_idm_2024"},
        {"x": "built_up_fraction", "y": f"{TABLE}.{SHARE}"},
    ],
    "/search": [{"q": "sle"}],
    "/regions": [{"level": "kabkota"}],
    "/layers/{layer_id}/{period}/table.csv": [
        {"region": "3404"},
        {"region": "3471"},
        {"region": "34"},
        {"bbox": "110.2,-7.9,110.6,-7.6"},
    ],
    "/layers/{layer_id}/{period}/tilejson.json": [{"tile_format": "png"}, {"tile_format": "pbf"}],
}


def probes(doc: dict[str, Any], root: Path) -> list[Probe]:
    """Every request of the matrix, from the OpenAPI document."""
    fill = path_values(root)
    found: list[Probe] = []
    for path, item in doc["paths"].items():
        op = item.get("get")
        if op is None:
            continue
        names = {p["name"] for p in op.get("parameters", [])}
        params = re.findall(r"{(\w+)}", path)
        missing = set(params) - {"layer_id", "z", "x", "y"} - set(fill)
        assert not missing, f"{path}: no value for {missing}; add it to path_values()"
        extras = NEEDED_QUERY.get(path, [{}])
        layers: list[Layer | None] = list(LAYERS) if "layer_id" in params else [None]
        for layer in layers:
            for values, extra in itertools.product(_path_combos(path, params, fill), extras):
                found.extend(_probe(path, names, values, extra, layer))
    return found


def _path_combos(path: str, params: list[str], fill: dict[str, list[Any]]) -> list[dict]:
    names = [p for p in params if p not in ("layer_id", "x", "y", "z")]
    choices = [fill[n] for n in names]
    if "z" in params:
        names.append("zxy")
        choices.append(fill["zxy"])
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*choices)]


def _probe(
    path: str, names: set[str], values: dict, extra: dict, layer: Layer | None
) -> list[Probe]:
    if layer is not None and "format" in values and values["format"] not in layer.formats:
        return []
    if layer is not None and extra.get("tile_format", "png") not in layer.formats:
        return []
    query = dict(extra)
    url = path
    if layer is not None:
        url = url.replace("{layer_id}", layer.id)
    zxy = values.pop("zxy", None)
    if zxy is not None:
        z, x, y, level = zxy
        url = url.replace("{z}", str(z)).replace("{x}", str(x)).replace("{y}", str(y))
        if level and "level" in names and (layer is None or not layer.id.startswith("raster")):
            query["level"] = level
    for name, value in values.items():
        url = url.replace(f"{{{name}}}", str(value))
    sensitive_layer = layer is not None and layer.sensitive
    if layer is not None and layer.column:
        if "column" not in names:
            sensitive_layer = False  # vector.villages without a column is public
        else:
            query["column"] = layer.column
    kode = values.get("kode") or extra.get("region")
    if sensitive_layer:
        kind = "layer"
    elif path == "/bivariate":
        kind = "layer" if extra["y"].startswith(TABLE) else "public"
    elif "kode" in values:
        kind = "place"
    elif path in ("/layers", "/wmts/WMTSCapabilities.xml"):
        kind = "listing"
    else:
        kind = "public"
    return [Probe(path, url, query, layer, kind, kode)]
