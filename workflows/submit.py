"""Submit work units to a Dask cluster, a bounded number at a time, with a progress bar."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from tqdm.auto import tqdm

from workflows.unit import UnitJob, UnitResult, run_unit

__all__ = ["run_units", "unit_threads"]

log = logging.getLogger(__name__)


def unit_threads(worker_threads: int, n_units: int) -> int:
    """Threads each unit uses inside its task: a lone unit takes its worker's threads."""
    return max(1, worker_threads // max(1, min(n_units, worker_threads)))


def run_units(
    client: Any,
    jobs: Sequence[UnitJob],
    *,
    progress: bool = True,
    max_in_flight: int | None = None,
    on_result: Callable[[UnitResult], None] | None = None,
) -> list[UnitResult]:
    """Run every job as one task, at most ``max_in_flight`` submitted at once.

    The default bound is two units per worker thread: enough to keep every thread busy
    while the next unit is scheduled, never a flood of a national run's thousands of
    units. A worker that dies is replaced by the scheduler, which runs its unit again
    elsewhere (writes are atomic and the item is written last, so nothing half-written
    is ever taken as done). Units are submitted largest first (pixels x pending periods).
    A unit that raises stops the run: committed units stay.
    ``on_result`` is called in the driver with each unit's result as it completes (after
    its items are committed), e.g. to publish them.
    """
    from distributed import as_completed

    if not jobs:
        return []
    nthreads = client.nthreads() or {"": 1}
    per_worker = max(nthreads.values())
    limit = max_in_flight or 2 * sum(nthreads.values())
    threads = unit_threads(per_worker, len(jobs))
    # largest first: the last units to finish are small ones, so no thread idles long at the end
    order = sorted(jobs, key=lambda j: j.pixels * len(j.periods), reverse=True)
    queue = iter([replace(j, threads=threads) for j in order])
    running: dict[str, str] = {}
    results: list[UnitResult] = []
    pool = as_completed()

    def submit_next() -> None:
        job = next(queue, None)
        if job is not None:
            future = client.submit(
                run_unit, job, key=f"unit-{job.unit_id}-{uuid.uuid4().hex[:8]}", pure=False
            )
            running[future.key] = job.unit_id
            pool.add(future)

    for _ in range(min(limit, len(jobs))):
        submit_next()
    with tqdm(total=len(jobs), desc="units", unit="unit", disable=not progress) as bar:
        bar.set_postfix_str(_running(running))
        for future in pool:
            unit = running.pop(future.key)
            try:
                results.append(future.result())
            except Exception:
                log.error("unit %s failed", unit)
                for f in pool.futures:
                    f.cancel()
                raise
            future.release()
            if on_result is not None:
                on_result(results[-1])
            submit_next()
            bar.set_postfix_str(_running(running))
            bar.update()
    return results


def _running(running: dict[str, str]) -> str:
    names = sorted(running.values())
    more = f" +{len(names) - 2}" if len(names) > 2 else ""
    return ("running " + ", ".join(names[:2]) + more) if names else ""
