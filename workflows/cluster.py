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
    scheduler: str | None = None, *, workers: int | None = None, memory_limit: str = "auto"
) -> Iterator[Client]:
    """A client for ``scheduler`` (``tcp://host:8786``), or a LocalCluster on this machine.

    Without ``workers`` the local cluster is one in-process worker with a thread per core:
    numpy and GDAL release the GIL, and composites then come back without being pickled.
    With ``workers=N`` it starts N worker processes sharing the cores.
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
    if workers:
        cluster = LocalCluster(
            n_workers=workers,
            threads_per_worker=max(1, cores // workers),
            processes=True,
            memory_limit=memory_limit,
            dashboard_address=":0",
        )
    else:
        cluster = LocalCluster(
            n_workers=1,
            threads_per_worker=cores,
            processes=False,
            memory_limit=memory_limit,
            dashboard_address=":0",
        )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
