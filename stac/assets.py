"""Reading scene assets through faults: GDAL's HTTP bounds, what failed, a cheap probe.

A scene file can be missing (404), answer too slowly, be cut short (a partial upload) or
not be a raster at all (an HTML error page saved as ``.tif``). :class:`ReadPolicy` bounds
every read: GDAL's HTTP timeout, and ``retries`` both for GDAL's own retries of each HTTP
request (429/5xx/timeouts, delay doubling from ``retry_delay``) and for Pantau's re-reads of
a whole scene (:func:`read_with_retries`). A re-read bypasses GDAL's cache of remote file
properties, which would otherwise remember a 404 for the life of the process.

:func:`probe_assets` opens every band asset of a scene and reads the last block of its
full-resolution image: COGs store that block at the end of the file, so a truncated file
fails here even when its overviews (all a coarse read touches) are whole.
:func:`read_error` turns any failed read into an :class:`~stac.errors.AssetReadError` with a
kind (``not_found``, ``timeout``, ``truncated``, ``not_tiff``, ``http_error``,
``read_error``) for quality reports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import pystac
import rasterio
from rasterio.errors import RasterioError

from stac.errors import AssetReadError
from stac.parse import band_assets

__all__ = ["READ_ERRORS", "ReadPolicy", "probe_assets", "read_error", "read_with_retries"]

log = logging.getLogger(__name__)
T = TypeVar("T")

#: What a failed pixel read raises (odc-stac re-raises rasterio's errors as they are).
READ_ERRORS: tuple[type[Exception], ...] = (RasterioError, OSError, AssetReadError)

# Matched, in this order, against the messages of the error and its causes (GDAL's words).
_KINDS = (
    ("not_found", ("response code: 404", "no such file", "does not exist", "not found")),
    ("timeout", ("timed out", "timeout was reached")),
    ("not_tiff", ("not recognized as being in a supported file format",
                  "not recognized as a supported file format", "not a tiff")),
    ("truncated", ("tiffread", "tifffill", "ireadblock", "read error", "failed to read",
                   "read failed", "cannot read", "unexpected end", "truncat")),
    ("http_error", ("http response code", "curl error")),
)  # fmt: skip
_SAYS = {
    "not_found": "not found",
    "timeout": "timed out",
    "not_tiff": "not a TIFF (GDAL cannot read it)",
    "truncated": "truncated or corrupt",
    "http_error": "HTTP error",
    "read_error": "read error",
}
# Re-reads skip GDAL's per-process cache of remote file sizes and existence.
_NO_CACHE = "/vsicurl/:/vsis3/:/vsigs/:/vsiaz/"


@dataclass(frozen=True)
class ReadPolicy:
    """Bounds of every scene read; small and picklable (it travels with each task)."""

    retries: int = 2
    retry_delay: float = 1.0
    timeout: float = 30.0

    def gdal_options(self, attempt: int = 0) -> dict[str, str]:
        """GDAL config for reads of attempt ``attempt`` (0: the first)."""
        options = {
            # odc-stac's cloud defaults, which any explicit GDAL config replaces
            "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
            "GDAL_HTTP_TIMEOUT": f"{self.timeout:g}",
            "GDAL_HTTP_MAX_RETRY": str(self.retries),
            "GDAL_HTTP_RETRY_DELAY": f"{self.retry_delay:g}",
        }
        if attempt:
            options["CPL_VSIL_CURL_NON_CACHED"] = _NO_CACHE
        return options

    def wait(self, attempt: int) -> float:
        """Seconds to wait before re-read ``attempt`` (1, 2, ...): delay x 2^(attempt-1)."""
        return float(self.retry_delay * 2 ** max(0, attempt - 1))


def read_error(exc: BaseException, *, asset: str | None = None) -> AssetReadError:
    """The AssetReadError saying what a failed read was (kind, asset, GDAL's message)."""
    if isinstance(exc, AssetReadError):
        return exc
    messages: list[str] = []
    cause: BaseException | None = exc
    while cause is not None and len(messages) < 6:
        text = str(cause).strip()
        if text and text not in messages:
            messages.append(text)
        cause = cause.__cause__ or cause.__context__
    everything = " ".join(messages).lower()
    kind = next((k for k, words in _KINDS if any(w in everything for w in words)), "read_error")
    # the deepest message is GDAL's own, e.g. "TIFFFillTile: Read error at row ..."
    detail = messages[-1] if messages else type(exc).__name__
    where = f"{asset}: " if asset else ""
    return AssetReadError(f"{where}{_SAYS[kind]}: {detail}", kind=kind, asset=asset)


def probe_assets(
    item: pystac.Item,
    bands: Iterable[str],
    *,
    patch_url: Callable[[str], str] | None = None,
    gdal: Mapping[str, str] | None = None,
) -> None:
    """Open each band asset of ``item`` and read its last full-resolution block.

    Raises AssetReadError naming the first asset that fails.
    """
    assets = band_assets(item, required=bands)
    with rasterio.Env(**(gdal or {})):
        for band in bands:
            href = assets[band].href
            try:
                with rasterio.open(patch_url(href) if patch_url else href) as ds:
                    rows, cols = ds.block_shapes[0]
                    last = ds.block_window(1, (ds.height - 1) // rows, (ds.width - 1) // cols)
                    ds.read(1, window=last)
            except READ_ERRORS as exc:
                raise read_error(exc, asset=band) from exc


def read_with_retries(read: Callable[[int], T], policy: ReadPolicy, *, what: str) -> T:
    """``read(attempt)`` until it succeeds, at most ``1 + policy.retries`` times.

    Read errors (READ_ERRORS) are retried after ``policy.wait``; the last one is raised as
    an AssetReadError saying how many attempts were made. Other errors pass through.
    """
    for attempt in range(policy.retries + 1):
        try:
            return read(attempt)
        except READ_ERRORS as exc:
            error = read_error(exc)
            if attempt == policy.retries:
                raise AssetReadError(
                    f"{error} after {attempt + 1} attempts", kind=error.kind, asset=error.asset
                ) from exc
            log.warning("%s: %s; reading again in %.2f s", what, error, policy.wait(attempt + 1))
            time.sleep(policy.wait(attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover
