"""SIGKILL the driver (and its local cluster) at 10 seeded-random moments of a run; rerun each.

An undisturbed ``python -m workflows.cli run`` over the tiny fixtures (3 work units x 2
periods) is watched: its duration and the moment each file appears under its final name. The
duration is cut into 10 equal spans and one moment drawn in each (``PANTAU_KILL_SEED`` sets the
seed, printed in every failure message). A killed run is the same command, SIGKILLed with its
process group at the same point of its progress: once as many files have appeared as at that
moment of the undisturbed run, plus the time since the last of them (so a run slower or faster
than the reference is still killed in the same stage). Each killed run must leave no
half-written file under a final name; its rerun (in this process, on one shared cluster) must
remove the temporary files, compute exactly the unit x periods with no item, leave the
committed ones untouched and give the undisturbed ``villages.parquet`` (to 1e-6). The next
killed run starts while the previous one is checked and rerun.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from bisect import bisect_right
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import rasterio

from simulate import SimulationResult
from workflows.run import run
from workflows.unit import unit_paths

from .conftest import END, START
from .test_units import SMALL, _config, _table

pytestmark = pytest.mark.slow

KILLS = 10
SEED = int(os.environ.get("PANTAU_KILL_SEED") or random.SystemRandom().randrange(2**32))


def _pantau_run(scenes: SimulationResult, villages: Path, out: Path) -> list[str]:
    """The command line of the run ``_config(scenes, villages, out, SMALL)`` describes."""
    return [
        sys.executable, "-m", "workflows.cli", "run",
        "--stac", str(scenes.catalog_dir), "--boundaries", str(villages),
        "--start", START, "--end", END, "--max-cloud", "80",
        "--out", str(out), "--tile-size", str(SMALL), "--no-progress",
    ]  # fmt: skip


def _temporary(path: Path) -> bool:
    return ".tmp" in path.name


def _files(out: Path) -> list[Path]:
    try:
        return sorted(p for p in out.rglob("*") if p.is_file())
    except FileNotFoundError:  # a temporary file renamed while listed
        return _files(out)


def _finals(out: Path) -> int:
    return sum(not _temporary(p) for p in _files(out)) if out.exists() else 0


def _items(out: Path) -> set[tuple[str, str]]:
    """Committed (unit, period) pairs: their STAC item, written last, exists."""
    return {(p.stem, p.parent.name) for p in (out / "catalog" / "items").glob("*/*.json")}


def _assert_whole(path: Path) -> None:
    """Read the whole file as what its name says it is."""
    suffix = path.suffix
    if suffix == ".parquet":
        pq.read_table(path)
    elif suffix == ".json":
        json.loads(path.read_text())
    elif suffix == ".csv":
        pd.read_csv(path)
    elif suffix == ".html":
        assert path.read_text().rstrip().endswith("</html>")
    elif suffix == ".npz":
        with np.load(path) as z:
            [z[k] for k in z.files]
    elif suffix == ".tif":
        with rasterio.open(path) as src:
            src.read()  # a COG's full-resolution blocks come last
    else:
        raise AssertionError(f"no check for a {suffix} file ({path.name}): add one")


def _group_gone(pgid: int, timeout: float = 30) -> None:
    """Wait until no live process of the group is left (zombies may stay unreaped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = False
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            live = live or (int(fields[2]) == pgid and fields[0] != "Z")
        if not live:
            return
        time.sleep(0.05)
    raise AssertionError(f"processes of group {pgid} alive {timeout} s after SIGKILL")


class _Run:
    """``argv`` in its own session; SIGKILLed with its group at a point of its progress.

    With ``files=None`` the run goes undisturbed and records when each file appears.
    """

    def __init__(self, argv: list[str], out: Path, files: int | None = None, after: float = 0):
        self.out, self.files, self.after = out, files, after
        self.log = out.with_name(out.name + ".stderr")
        self.appeared: list[float] = []
        self.killed = False
        self.seconds = 0.0
        self.error: BaseException | None = None
        self.t0 = time.monotonic()
        with self.log.open("w") as err:
            self.proc = subprocess.Popen(
                argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=err
            )
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        try:
            self._kill_when_due()
        except BaseException as exc:  # raised again in wait()
            self.error = exc
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)

    def _kill_when_due(self) -> None:
        reached = self.t0 if self.files == 0 else None
        while self.proc.poll() is None:
            n = _finals(self.out)
            now = time.monotonic()
            self.appeared += [now - self.t0] * (n - len(self.appeared))
            if self.files is not None and reached is None and n >= self.files:
                reached = now
            if reached is not None and now - reached >= self.after:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.killed = True
                break
            time.sleep(0.02)
        self.proc.wait()
        _group_gone(self.proc.pid)
        self.seconds = time.monotonic() - self.t0

    def wait(self) -> _Run:
        self.thread.join(600)
        assert not self.thread.is_alive(), "the run neither ended nor was killed in 600 s"
        if self.error is not None:
            raise self.error
        assert self.killed or self.proc.returncode == 0, self.log.read_text()[-3000:]
        return self


@pytest.fixture(scope="module")
def undisturbed(tmp_path_factory, tiny_scenes, tiny_villages) -> _Run:
    """The reference run, through the CLI like the killed ones, watched."""
    out = tmp_path_factory.mktemp("undisturbed") / "out"
    ref = _Run(_pantau_run(tiny_scenes, tiny_villages, out), out).wait()
    assert len({u for u, _ in _items(out)}) >= 3 and len({p for _, p in _items(out)}) >= 2
    return ref


@pytest.fixture(scope="module")
def client() -> Iterator[object]:
    """One local cluster for every rerun, as a CLI run starts one."""
    from workflows.cluster import dask_client

    with dask_client() as c:
        yield c


def test_runs_killed_at_random_moments_resume_to_the_same_table(
    tmp_path: Path, tiny_scenes, tiny_villages, undisturbed: _Run, client
) -> None:
    reference, appeared = undisturbed.out, undisturbed.appeared
    expected_items, expected = _items(reference), _table(reference)
    rng = random.Random(SEED)
    moments = [undisturbed.seconds * (k + rng.random()) / KILLS for k in range(KILLS)]

    def start(k: int) -> _Run:
        files = bisect_right(appeared, moments[k])
        after = moments[k] - (appeared[files - 1] if files else 0.0)
        out = tmp_path / f"kill{k}"
        return _Run(_pantau_run(tiny_scenes, tiny_villages, out), out, files, after)

    summary = []
    following = start(0)
    for k in range(KILLS):
        victim = following.wait()
        if k + 1 < KILLS:
            following = start(k + 1)  # runs while this one is checked and rerun
        out = victim.out
        where = (
            f"seed {SEED} (PANTAU_KILL_SEED), kill {k} at {moments[k]:.2f} s of the "
            f"undisturbed {undisturbed.seconds:.1f} s (file {victim.files} + "
            f"{victim.after:.2f} s)"
        )
        files = _files(out) if out.exists() else []
        for path in files:
            if not _temporary(path):
                try:
                    _assert_whole(path)
                except Exception as exc:
                    raise AssertionError(f"{where}: {path} is not whole: {exc!r}") from exc
        committed = _items(out)
        kept = {
            p: p.stat().st_mtime_ns for u, period in committed for p in _unit_files(out, u, period)
        }
        result = run(_config(tiny_scenes, tiny_villages, out, SMALL), client=client)
        assert set(result.computed_units) == expected_items - committed, where
        assert {p: p.stat().st_mtime_ns for p in kept} == kept, where
        left = [str(p.relative_to(out)) for p in _files(out) if _temporary(p)]
        assert not left, f"{where}: temporary files left after the rerun: {left}"
        try:
            pd.testing.assert_frame_equal(
                _table(out), expected, check_exact=False, rtol=0, atol=1e-6
            )
        except AssertionError as exc:
            raise AssertionError(f"{where}: {exc}") from exc
        summary.append(
            f"{moments[k]:5.2f} s: {'killed' if victim.killed else 'ended '} at "
            f"{victim.seconds:5.2f} s, {len(files)} files ({sum(map(_temporary, files))} "
            f"temporary), items {len(committed)}/{len(expected_items)}, "
            f"rerun computed {len(result.computed_units)}"
        )
    print(f"seed {SEED}, undisturbed run {undisturbed.seconds:.1f} s", *summary, sep="\n")


def _unit_files(out: Path, unit: str, period: str) -> list[Path]:
    """The files of a committed unit x period: COGs, statistics, quality, item."""
    paths = unit_paths(out, unit, period)
    cogs = [p for p in paths["composites"].iterdir() if not _temporary(p)]
    return [*cogs, paths["stats"], paths["quality"], paths["item"]]
