"""Every operation of the OpenAPI document refuses a query parameter it does not take.

The operations are read from the app's own ``/openapi.json``, so a new endpoint is checked
without editing this file. Each gets real path values (both layer families where the path
has a layer id) and the query parameters it needs; that request must succeed, and the same
request with one undeclared parameter must be a 400 naming it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.tiles.conftest import PATH_BASELINES as BASELINES
from tiles.app import create_app
from tiles.settings import TilesSettings

#: Query parameters an operation needs to answer 200 (by documented path).
NEEDED = {
    "/bivariate": {"x": "built_up_fraction", "y": "ndvi_mean"},
    "/layers/{layer_id}/{period}/table.csv": {"region": "3471"},
    "/regions": {"level": "kabkota"},
    "/search": {"q": "kota"},
}
UNKNOWN = "pantau_unknown"


@pytest.fixture(scope="module")
def client(products_dir: Path) -> TestClient:
    return TestClient(create_app(TilesSettings(products_dir=products_dir, rescan_interval=3600)))


def _requests(doc: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    """(path, query) of every GET operation with real values, for each layer family."""
    requests = []
    for template, item in doc["paths"].items():
        assert set(item) == {"get"}, f"{template}: check the other methods too"
        for base in BASELINES if "{layer_id}" in template else BASELINES[:1]:
            path = re.sub(r"\{(\w+)\}", lambda m, b=base: str(b[m[1]]), template)
            requests.append((path, NEEDED.get(template, {})))
    return requests


def test_every_operation_refuses_an_unknown_parameter(client: TestClient) -> None:
    requests = _requests(client.get("/openapi.json").json())
    assert len(requests) >= 18  # 13 operations, 5 of them for both layer families
    for path, query in requests:
        assert client.get(path, params=query).status_code in (200, 204), path
        response = client.get(path, params={**query, UNKNOWN: "1"})
        assert response.status_code == 400, (path, response.status_code, response.text[:200])
        assert response.json()["parameter"] == UNKNOWN, (path, response.json())
        assert UNKNOWN in response.json()["detail"]
