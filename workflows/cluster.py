"""Dask clients: a LocalCluster sized to the machine, or an existing scheduler."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager

from distributed import Client, LocalCluster

from workflows.errors import WorkflowError

__all__ = ["dask_client"]

log = logging.getLogger(__name__)


@contextmanager
def dask_client(
    scheduler: str | None = None,
    *,
    workers: int | None = None,
    memory_limit: str = "auto",
    units: int | None = None,
) -> Iterator[Client]:
    """A client for ``scheduler`` (``tcp://host:8786``), or a LocalCluster on this machine.

    Without ``workers`` the local cluster has a worker process per core with one thread
    each when there are at least as many ``units`` as cores: each unit runs alone in its
    process, sharing no interpreter lock with another unit (the pipeline bench, 12 units on
    2 cores: 10-15 % faster than two units in one process). With fewer units (or ``units``
    unknown) it is one process with a thread per core, so a lone unit uses every core (numpy
    and GDAL release the GIL). With ``workers=N`` it starts N worker processes sharing the
    cores. The driver only plans and gathers small tables and stays small. Local clusters
    listen on loopback only.
    """
    if logging.getLogger().getEffectiveLevel() > logging.INFO:
        # distributed logs every worker start/stop at INFO; keep the console for progress
        for name in ("distributed", "distributed.scheduler", "distributed.worker"):
            logging.getLogger(name).setLevel(logging.WARNING)
    if scheduler:
        try:
            client = Client(scheduler, timeout="10s")
        except OSError as exc:
            raise WorkflowError(
                f"cannot reach the Dask scheduler at {scheduler} ({exc}); start one with "
                "`dask scheduler` or leave --scheduler out to run on this machine"
            ) from None
        try:
            yield client
        finally:
            client.close()
        return
    cores = os.cpu_count() or 1
    n = workers or (cores if units is not None and units >= cores else 1)
    cluster = LocalCluster(
        n_workers=n,
        threads_per_worker=max(1, cores // n),
        processes=True,
        host="127.0.0.1",
        memory_limit=memory_limit,
        dashboard_address="127.0.0.1:0",
    )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
