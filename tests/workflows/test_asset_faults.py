"""Asset faults on the real engine: simulated scenes whose files are missing, slow, cut short
or not TIFFs (served by the loopback server of tests/stac/fault_api.py, or local files).

One scene of 2021 (VICTIM) is broken at a time. The per-scene checks must leave it out of
every unit with the reason in quality.json, and the villages table must equal that of a run
over the catalog without it. Too many unreadable scenes stop the run before anything is
committed. A fault that only appears when a unit reads (after the checks) is retried, then
fails the unit with an error naming the scene; the rerun completes.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pystac
import pytest

import stac.search
import workflows.run
from geo.errors import PantauError
from simulate import SimulationResult
from tests.stac.fault_api import FaultApi, serve
from workflows.run import RunConfig, run
from workflows.settings import WorkflowSettings

VICTIM = "S2B_49MDM_20210517_0_L2A"
OTHER = "S2B_49MDM_20210805_0_L2A"
BROKEN = "nir"  # a band the coarse plausibility read never touches: only the probe sees it
# short waits and one retry keep the tests fast; one bad scene of four is allowed
FAST = WorkflowSettings(
    read_retries=1, read_retry_delay=0.05, read_timeout=0.5, max_failed_scene_share=0.3
)
Edit = Callable[[list[pystac.Item]], list[pystac.Item]]


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    """One in-process Dask client for the module (monkeypatches and the server reach it)."""
    from distributed import Client

    with Client(
        processes=False, n_workers=1, threads_per_worker=2, dashboard_address="127.0.0.1:0"
    ) as dask:
        yield dask


@pytest.fixture(scope="module")
def server() -> Iterator[FaultApi]:
    with serve(FaultApi(slow_seconds=2.0)) as running:
        yield running


@pytest.fixture
def api(server: FaultApi) -> FaultApi:
    server.reset()
    return server


def _run(
    scenes: SimulationResult,
    villages: Path,
    out: Path,
    client: Any,
    monkeypatch: pytest.MonkeyPatch,
    edit: Edit | None = None,
    settings: WorkflowSettings = FAST,
) -> Any:
    """``pantau run`` over 2021 (four scenes), the searched items passed through ``edit``."""

    def search(*args: Any, **kwargs: Any) -> list[pystac.Item]:
        items = stac.search.search_scenes(*args, **kwargs)
        return edit(items) if edit else items

    monkeypatch.setattr(workflows.run, "search_scenes", search)
    config = RunConfig(
        stac=str(scenes.catalog_dir), boundaries=villages, out=out, start="2021-01-01",
        end="2021-12-31", max_cloud=90, progress=False,
    )  # fmt: skip
    return run(config, client=client, settings=settings)


def _table(out: Path) -> pd.DataFrame:
    return pd.DataFrame(gpd.read_parquet(out / "villages.parquet").drop(columns="geometry"))


def _break(scene: str, band: str, href: Callable[[str], str]) -> Edit:
    """An edit that points one band of ``scene`` at ``href(original href)``."""

    def edit(items: list[pystac.Item]) -> list[pystac.Item]:
        for item in items:
            if item.id == scene:
                item.assets[band].href = href(item.assets[band].href)
        return items

    return edit


def _serve_scene(api: FaultApi, scene: str, token: str) -> Edit:
    """Every band of ``scene`` served by the fault server under ``/assets/<token>/``.

    A token per test keeps GDAL's per-process cache of remote files from carrying one
    test's 404 into another's.
    """

    def edit(items: list[pystac.Item]) -> list[pystac.Item]:
        for item in items:
            if item.id == scene:
                for band, asset in item.assets.items():
                    if asset.href.endswith(".tif"):
                        api.files[f"{token}/{band}.tif"] = Path(asset.href)
                        asset.href = f"{api.url}/assets/{token}/{band}.tif"
        return items

    return edit


def _truncated(tmp: Path) -> Callable[[str], str]:
    def href(original: str) -> str:
        data = Path(original).read_bytes()
        path = tmp / "truncated.tif"
        path.write_bytes(data[: len(data) // 2])
        return str(path)

    return href


def _not_tiff(tmp: Path) -> Callable[[str], str]:
    def href(original: str) -> str:
        path = tmp / "not-a-tiff.tif"
        path.write_text("<html><body>503 Service Temporarily Unavailable</body></html>\n" * 40)
        return str(path)

    return href


@pytest.fixture(scope="module")
def without_victim(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_scenes: SimulationResult,
    tiny_villages: Path,
    client: Any,
) -> pd.DataFrame:
    """The villages table of a run over the catalog minus VICTIM."""
    with pytest.MonkeyPatch.context() as mp:
        out = tmp_path_factory.mktemp("without-victim")
        _run(tiny_scenes, tiny_villages, out, client, mp,
             edit=lambda items: [i for i in items if i.id != VICTIM])  # fmt: skip
    return _table(out)


@pytest.fixture(scope="module")
def healthy(
    tmp_path_factory: pytest.TempPathFactory,
    tiny_scenes: SimulationResult,
    tiny_villages: Path,
    client: Any,
) -> Path:
    """A run over every scene, nothing broken."""
    with pytest.MonkeyPatch.context() as mp:
        out = tmp_path_factory.mktemp("healthy")
        _run(tiny_scenes, tiny_villages, out, client, mp)
    return out


FAULTS = ["404", "timeout", "truncated", "not_tiff"]
KIND = {"404": "not_found", "timeout": "timeout", "truncated": "truncated", "not_tiff": "not_tiff"}


@pytest.mark.parametrize("fault", FAULTS)
def test_an_unreadable_scene_is_excluded_with_its_reason(
    fault: str, api: FaultApi, tmp_path: Path, tiny_scenes: SimulationResult,
    tiny_villages: Path, client: Any, monkeypatch: pytest.MonkeyPatch,
    without_victim: pd.DataFrame,
) -> None:  # fmt: skip
    if fault in {"404", "timeout"}:
        edit = _serve_scene(api, VICTIM, token=fault)
        api.always[f"asset:{fault}/{BROKEN}.tif"] = "404" if fault == "404" else "slow"
    else:
        make = _truncated if fault == "truncated" else _not_tiff
        edit = _break(VICTIM, BROKEN, make(tmp_path))
    out = tmp_path / "out"
    _run(tiny_scenes, tiny_villages, out, client, monkeypatch, edit=edit)

    quality = json.loads((out / "quality.json").read_text())
    assert quality["scenes_excluded"] == [VICTIM]
    (period,) = quality["periods"]
    assert period["scenes_excluded"] == [VICTIM] and period["scenes_used"] == 3
    verdict = next(s for s in period["scenes"] if s["id"] == VICTIM)["plausibility"]
    assert verdict["readable"] is False
    assert verdict["read_error"] == {"kind": KIND[fault], "asset": BROKEN}
    assert verdict["reason"].startswith(f"{BROKEN}: ") and "after 2 attempts" in verdict["reason"]
    # nothing of the scene reached the numbers: the table is the one without it
    pd.testing.assert_frame_equal(_table(out), without_victim)
    item = json.loads(next((out / "catalog" / "items" / "2021").glob("*.json")).read_text())
    sources = {ln["pantau:item_id"] for ln in item["links"] if ln["rel"] == "derived_from"}
    assert VICTIM not in sources and len(sources) == 3


def test_too_many_unreadable_scenes_stop_the_run_before_anything_is_committed(
    tmp_path: Path, tiny_scenes: SimulationResult, tiny_villages: Path, client: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    first = _break(VICTIM, BROKEN, _not_tiff(tmp_path))
    second = _break(OTHER, "red", lambda href: str(tmp_path / "missing.tif"))
    out = tmp_path / "out"
    with pytest.raises(PantauError) as error:
        _run(tiny_scenes, tiny_villages, out, client, monkeypatch,
             edit=lambda items: second(first(items)),
             settings=FAST.model_copy(update={"max_failed_scene_share": 0.2}))  # fmt: skip
    message = str(error.value)
    assert "period 2021: 2 of 4 scenes (50%) could not be read" in message
    assert f"{VICTIM}: nir: not a TIFF" in message and f"{OTHER}: red: not found" in message
    assert "PANTAU_WORKFLOW_MAX_FAILED_SCENE_SHARE=0.2" in message
    written = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert written == ["stats/scene_checks.json"]  # the verdicts, nothing committed


def test_too_many_unreadable_scenes_exit_2_from_the_cli(
    tmp_path: Path, tiny_scenes: SimulationResult, tiny_villages: Path, client: Any,
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    from workflows.cli import main

    broken = _break(VICTIM, BROKEN, lambda href: str(tmp_path / "missing.tif"))
    real = stac.search.search_scenes
    monkeypatch.setattr(workflows.run, "search_scenes", lambda *a, **k: broken(real(*a, **k)))
    monkeypatch.setenv("PANTAU_WORKFLOW_READ_RETRIES", "0")
    out = tmp_path / "out"
    argv = ["run", "--stac", str(tiny_scenes.catalog_dir), "--boundaries", str(tiny_villages),
            "--start", "2021-01-01", "--end", "2021-12-31", "--max-cloud", "90", "--out",
            str(out), "--no-progress", "--scheduler", client.scheduler.address]  # fmt: skip
    assert main(argv) == 2  # the default share, 0.2, allows no bad scene among four
    assert "too many scenes could not be read" in capsys.readouterr().err
    assert not (out / "villages.parquet").exists() and not (out / "catalog").exists()


def test_a_fault_after_the_checks_fails_the_unit_and_the_rerun_completes(
    tmp_path: Path, tiny_scenes: SimulationResult, tiny_villages: Path, client: Any,
    monkeypatch: pytest.MonkeyPatch, healthy: Path,
) -> None:  # fmt: skip
    out = tmp_path / "out"
    (out / "stats").mkdir(parents=True)  # the checks passed earlier: their verdicts are kept
    shutil.copy(healthy / "stats" / "scene_checks.json", out / "stats")
    broken = _break(VICTIM, BROKEN, _truncated(tmp_path))
    with pytest.raises(PantauError) as error:
        _run(tiny_scenes, tiny_villages, out, client, monkeypatch, edit=broken)
    message = str(error.value)
    assert "period 2021: reading its scenes failed" in message and "after 2 attempts" in message
    assert f"scene {VICTIM}: nir: truncated or corrupt" in message
    assert not list((out / "catalog").rglob("*.json")) and not (out / "villages.parquet").exists()
    assert not list((out / "stats").rglob("*.parquet"))

    result = _run(tiny_scenes, tiny_villages, out, client, monkeypatch)  # the file is back
    assert result.computed == ["2021"]
    pd.testing.assert_frame_equal(_table(out), _table(healthy))


def test_a_transient_fault_in_a_unit_is_retried(
    api: FaultApi, tmp_path: Path, tiny_scenes: SimulationResult, tiny_villages: Path,
    client: Any, monkeypatch: pytest.MonkeyPatch, healthy: Path,
) -> None:  # fmt: skip
    out = tmp_path / "out"
    (out / "stats").mkdir(parents=True)
    shutil.copy(healthy / "stats" / "scene_checks.json", out / "stats")
    edit = _serve_scene(api, VICTIM, token="transient")
    api.inject(f"asset:transient/{BROKEN}.tif", "404")  # once; GDAL would remember it
    _run(tiny_scenes, tiny_villages, out, client, monkeypatch, edit=edit)
    statuses = [h.status for h in api.hits(f"asset:transient/{BROKEN}.tif")]
    assert statuses[0] == 404 and set(statuses[1:]) == {200}
    pd.testing.assert_frame_equal(_table(out), _table(healthy))
    assert json.loads((out / "quality.json").read_text())["scenes_excluded"] == []


def test_a_scene_readable_again_is_used_by_the_rerun(
    tmp_path: Path, tiny_scenes: SimulationResult, tiny_villages: Path, client: Any,
    monkeypatch: pytest.MonkeyPatch, healthy: Path,
) -> None:  # fmt: skip
    """Unreadable verdicts are not reused, and the commit fingerprint names the scenes left
    out: once the file is whole again, the rerun reads it and recomputes the period."""
    out = tmp_path / "out"
    _run(tiny_scenes, tiny_villages, out, client, monkeypatch,
         edit=_break(VICTIM, BROKEN, _not_tiff(tmp_path)))  # fmt: skip
    again = _run(tiny_scenes, tiny_villages, out, client, monkeypatch)
    assert again.computed == ["2021"] and again.skipped == []
    pd.testing.assert_frame_equal(_table(out), _table(healthy))
    assert json.loads((out / "quality.json").read_text())["scenes_excluded"] == []
