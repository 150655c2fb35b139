"""Per-scene plausibility checks as the workers run them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import dask
import pytest

from simulate import SimulationResult
from stac.local import search_local
from workflows.checks import check_scene


@pytest.fixture(scope="module")
def scene_dicts(tiny_scenes: SimulationResult) -> list[dict]:
    items = search_local(tiny_scenes.catalog_dir)
    assert len(items) >= 4
    return [item.to_dict() for item in items]


def test_check_scene_finds_the_scene_the_simulator_broke(
    tiny_scenes: SimulationResult, scene_dicts: list[dict]
) -> None:
    """The simulator plants one scene whose offset is applied twice; only it is flagged."""
    verdicts = {d["id"]: check_scene(d, resolution=60.0) for d in scene_dicts}
    flagged = {i for i, v in verdicts.items() if not v["plausible"]}
    assert flagged == {"S2A_49MDM_20220226_0_L2A"}
    assert "subtracted twice" in verdicts["S2A_49MDM_20220226_0_L2A"]["reason"]
    assert all(v["n_land"] > 0 for v in verdicts.values())


def test_concurrent_checks_ignore_the_process_wide_distributed_scheduler(
    scene_dicts: list[dict],
) -> None:
    """A worker process inherits ``scheduler: dask.distributed`` from its client's config and
    runs several checks at once on its threads. Each check must compute on its own scheduler:
    a ``dask.config.set`` inside the task is process-global, so concurrent tasks restored each
    other's setting and failed with 'Requested dask.distributed scheduler but no Client active'
    (CI, stop 14)."""
    serial = [check_scene(d, resolution=60.0) for d in scene_dicts]
    with dask.config.set(scheduler="dask.distributed"), ThreadPoolExecutor(8) as pool:
        verdicts = list(pool.map(lambda d: check_scene(d, resolution=60.0), scene_dicts * 4))
    assert [v["plausible"] for v in verdicts] == [v["plausible"] for v in serial] * 4
    assert [v["n_land"] for v in verdicts] == [v["n_land"] for v in serial] * 4


def test_check_computes_on_its_own_scheduler_whatever_the_global_config_says(
    scene_dicts: list[dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race above, made deterministic: another task's ``dask.config.set`` exit has put the
    process-wide scheduler back to ``dask.distributed`` while this check runs (modelled by
    making any ``dask.config.set`` inside the check a no-op)."""
    import contextlib

    with dask.config.set(scheduler="dask.distributed"):
        monkeypatch.setattr(dask.config, "set", lambda *a, **k: contextlib.nullcontext())
        verdict = check_scene(scene_dicts[0], resolution=60.0)
    assert verdict["plausible"] is True
    assert verdict["n_land"] > 0
