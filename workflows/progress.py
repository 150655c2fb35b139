"""Compute dask collections with a progress bar (distributed client or local scheduler)."""

from __future__ import annotations

from typing import Any

import dask
import numpy as np
from dask.callbacks import Callback
from tqdm.auto import tqdm

__all__ = ["compute_with_progress", "compute_array"]


class _TqdmCallback(Callback):
    """Progress of dask's local schedulers as a tqdm bar over tasks."""

    def __init__(self, desc: str, enabled: bool) -> None:
        super().__init__()
        self._desc, self._enabled, self._bar = desc, enabled, None

    def _start_state(self, dsk: Any, state: Any) -> None:
        total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
        self._bar = tqdm(total=total, desc=self._desc, unit="task", disable=not self._enabled)

    def _posttask(self, key: Any, result: Any, dsk: Any, state: Any, worker_id: Any) -> None:
        if self._bar is not None:
            self._bar.update()

    def _finish(self, dsk: Any, state: Any, errored: bool) -> None:
        if self._bar is not None:
            self._bar.close()


def compute_with_progress(client: Any, obj: Any, desc: str, progress: bool = True) -> Any:
    """``obj.compute()`` on ``client`` (or the current one), showing a bar over its chunks."""
    if client is None:
        try:
            from distributed import get_client

            client = get_client()
        except ValueError:
            client = None
    if client is None:
        with _TqdmCallback(desc, progress):
            return dask.compute(obj)[0]
    from distributed import as_completed, futures_of

    persisted = client.persist(obj)
    futures = futures_of(persisted)
    with tqdm(total=len(futures), desc=desc, unit="chunk", disable=not progress) as bar:
        for _ in as_completed(futures):
            bar.update()
    return client.compute(persisted).result()


def compute_array(client: Any, lazy: Any, desc: str, progress: bool = True) -> np.ndarray:
    """Compute a dask array into one numpy array, block by block, with a progress bar.

    Each finished block is copied into the preallocated result and released at once, so
    the peak memory is the result plus the blocks in flight (``persist`` followed by a
    concatenation would hold the result twice). Works with local and remote clusters alike.
    """
    if client is None:
        try:
            from distributed import get_client

            client = get_client()
        except ValueError:
            client = None
    out = np.empty(lazy.shape, dtype=lazy.dtype)
    starts = [np.cumsum((0,) + c) for c in lazy.chunks]
    indices = list(np.ndindex(*lazy.numblocks))

    def where(idx: tuple[int, ...]) -> tuple[slice, ...]:
        return tuple(slice(s[i], s[i + 1]) for s, i in zip(starts, idx, strict=True))

    with tqdm(total=len(indices), desc=desc, unit="block", disable=not progress) as bar:
        if client is None:
            with _TqdmCallback(desc, False):
                for idx in indices:
                    out[where(idx)] = lazy.blocks[idx].compute()
                    bar.update()
            return out
        from distributed import as_completed

        futures = client.compute([lazy.blocks[idx] for idx in indices])
        position = {f.key: idx for f, idx in zip(futures, indices, strict=True)}
        for future in as_completed(futures):
            out[where(position[future.key])] = future.result()
            future.release()
            bar.update()
    return out
