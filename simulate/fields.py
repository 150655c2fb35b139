"""Smooth random fields (spatially coherent patches) and a reusable pool of pixel noise.

Fields are white noise smoothed with a Gaussian on a coarse grid, then upsampled bilinearly
strip by strip, so a 70-megapixel field never has to be smoothed or held at full resolution.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import gaussian_filter

__all__ = ["SmoothField", "quantize", "QUANT_LEVELS", "noise_pool"]

QUANT_LEVELS = 1024  # levels of a quantized field (uint16), covering -4..+4 standard deviations


class SmoothField:
    """A zero-mean, unit-variance random field: the weighted sum of smoothed white noises.

    ``octaves`` are (correlation length in pixels, weight) pairs, all drawn on one coarse
    grid, so several octaves cost one upsampling. ``rows(r0, r1)`` returns rows ``r0:r1`` of
    the full-resolution field (float32); any strip can be recomputed and gives the same values.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        shape: tuple[int, int],
        *,
        scale_px: float,
        octaves: tuple[tuple[float, float], ...] = (),
        max_factor: int = 16,
    ) -> None:
        height, width = shape
        layers = ((scale_px, 1.0), *octaves)
        # keep sigma >= 3 coarse pixels so bilinear upsampling stays smooth
        factor = int(max(1, min(max_factor, min(s for s, _ in layers) // 3)))
        coarse_shape = (height // factor + 2, width // factor + 2)
        coarse = np.zeros(coarse_shape, dtype=np.float32)
        for scale, weight in layers:
            noise = rng.standard_normal(coarse_shape, dtype=np.float32)
            layer = gaussian_filter(noise, sigma=scale / factor, mode="wrap")
            std = float(layer.std())
            coarse += layer * np.float32(weight / std if std > 0 else 0.0)
        std = float(coarse.std())
        coarse /= std if std > 0 else 1.0
        self.shape = shape
        self._coarse = coarse
        self._j0, self._wx = _axis_weights(width, factor)
        self._i0, self._wy = _axis_weights(height, factor)

    def rows(self, r0: int, r1: int) -> np.ndarray:
        """Rows ``r0:r1`` of the field at full resolution."""
        i0 = self._i0[r0:r1]
        lo, hi = int(i0[0]), int(i0[-1]) + 2
        sub = self._coarse[lo:hi]
        # interpolate along x for the few coarse rows needed, then along y
        t = sub.take(self._j0, axis=1)
        t += (sub.take(self._j0 + 1, axis=1) - t) * self._wx
        k = i0 - lo
        out = t.take(k, axis=0)
        upper = t.take(k + 1, axis=0)
        upper -= out
        upper *= self._wy[r0:r1, None]
        out += upper
        return out

    def full(self) -> np.ndarray:
        """The whole field (float32)."""
        return self.rows(0, self.shape[0])


def _axis_weights(n: int, factor: int) -> tuple[np.ndarray, np.ndarray]:
    # coarse coordinate of each fine pixel centre; coarse pixel k is centred at fine k*factor
    x = np.maximum((np.arange(n, dtype=np.float64) + 0.5) / factor - 0.5, 0.0)
    i0 = np.floor(x).astype(np.intp)
    return i0, (x - i0).astype(np.float32)


def quantize(values: np.ndarray) -> np.ndarray:
    """Map a unit-variance field to ``QUANT_LEVELS`` integer levels (uint16)."""
    q = values * np.float32(QUANT_LEVELS / 8) + np.float32(QUANT_LEVELS / 2)
    np.clip(q, 0, QUANT_LEVELS - 1, out=q)
    return q.astype(np.uint16)


def noise_pool(seed: int, *, size: int, rel: float) -> np.ndarray:
    """Multiplicative noise factors ``1 + rel * N(0, 1)`` (float32), clipped at 4 sigma.

    Scenes take contiguous slices at random offsets instead of drawing fresh normals for
    every pixel: drawing ~3 billion normals for a province would dominate the run time, and a
    randomly offset slice is as good as fresh noise for a per-pixel speckle.
    """
    rng = np.random.default_rng([seed, 0x6E6F697365])
    pool = rng.standard_normal(size, dtype=np.float32)
    np.clip(pool, -4.0, 4.0, out=pool)
    pool *= np.float32(rel)
    pool += np.float32(1.0)
    return pool
