"""The tile server draws built_up.tif with the method the run recorded in quality.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from fastapi.testclient import TestClient

from geo.products import BUILT_UP_METHODS, PRODUCTS
from tiles.app import create_app
from tiles.settings import TilesSettings


def test_a_rule_run_is_drawn_as_classes(tmp_path: Path, products_dir: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(products_dir, root)
    (root / "quality.json").write_text(json.dumps({"built_up_method": "rule"}))
    rule = BUILT_UP_METHODS["rule"]
    assert rule.legend == "classes" and PRODUCTS["built_up"].legend != "classes"
    client = TestClient(create_app(TilesSettings(products_dir=root)))
    legend = client.get("/layers/raster.built_up/2024/legend.json").json()["legend"]
    assert {entry["label"] for entry in legend} == set(rule.classes.values())


def test_without_a_record_the_registry_draws_it(tmp_path: Path, products_dir: Path) -> None:
    root = tmp_path / "p"
    shutil.copytree(products_dir, root)
    (root / "quality.json").write_text(json.dumps({"built_up_method": "no-such-method"}))
    client = TestClient(create_app(TilesSettings(products_dir=root)))
    legend = client.get("/layers/raster.built_up/2024/legend.json").json()["legend"]
    assert len(legend) >= 2 and {e["label"] for e in legend} != set(
        BUILT_UP_METHODS["rule"].classes.values()
    )
