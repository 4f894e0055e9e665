"""Fused numba kernels for the CPU path of the structure-quality families (ssim, edge_f1, normals).

Each kernel computes exactly the statistics of the family's torch path (same windows, same
validity tests, same per-pixel formulas in float32) in one pass over (image, row-band) jobs run
in parallel: the filtered rows of a band stay in the L1/L2 cache instead of every intermediate
map making a round trip to memory, which is what bounded the torch shift-and-add path on CPU.

Precision (as the torch path): inputs, filters and per-pixel terms in float32; per-band sums in
float64, counts in float32 (exact below 2^24 pixels per band). Only the order of float32 additions
differs from torch, so statistics agree to ~1e-6 relative (tests/test_quality_cpu_kernels.py).

``fastmath`` allows reassociation and contraction (FMA) so LLVM vectorises the float64 reductions
and the filters; no flag changes NaN/inf semantics or a comparison. The edge kernel is compiled
without contraction so its gradient magnitudes round as torch's do before the thresholds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

from depthbench.metrics.arrays import is_torch

_FASTMATH = {"reassoc", "contract", "nsz"}
_FASTMATH_NO_FMA = {"reassoc", "nsz"}


def cpu_arrays(pred: Any, gt: Any, mask: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(pred, gt) as C-contiguous float32 B×H×W numpy arrays and mask as bool, or None when the
    inputs are CUDA (or other non-CPU) tensors, which take the torch path. H×W gets a batch axis."""
    out = []
    for a in (pred, gt, mask):
        if is_torch(a):
            if a.device.type != "cpu":
                return None
            a = a.detach().numpy()
        a = np.asarray(a)
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3:
            raise ValueError(f"expected H×W or B×H×W input, got shape {tuple(a.shape)}")
        out.append(a)
    p, g, m = out
    if p.shape != g.shape or p.shape != m.shape:
        raise ValueError(f"pred, gt and mask must have the same shape, got {p.shape}, {g.shape}, {m.shape}")
    return (np.ascontiguousarray(p, dtype=np.float32), np.ascontiguousarray(g, dtype=np.float32),
            np.ascontiguousarray(m, dtype=np.bool_))


# ---------------------------------------------------------------------------------------------
# SSIM


@njit(parallel=True, cache=True, fastmath=_FASTMATH, nogil=True)
def ssim_stats_numba(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, taps: np.ndarray, lo: float, hi: float,
                     norm: float, c1: float, c2: float, band_rows: int) -> np.ndarray:  # pragma: no cover - numba
    """B×2 (windows, Σ SSIM) of x = vis(gt), y = vis(pred), vis(d) = clip((d − lo)/(hi − lo), 0, 1).

    Per job (image, band of output rows): each input row is visualised and filtered horizontally
    for the 5 moments (x, y, x², y², xy) into a ring of ``k`` rows, with the row's count of invalid
    pixels per window; each output row then filters the ring vertically, forms the SSIM map and
    sums it over windows whose k×k pixels are all valid. ``norm``: N/(N − 1) for the sample
    covariance, else 1.
    """
    batch, height, width = pred.shape
    k = taps.shape[0]
    rows_out = height - k + 1
    cols = width - k + 1
    bands = (rows_out + band_rows - 1) // band_rows
    partial = np.zeros((batch * bands, 2), dtype=np.float64)
    scale = np.float32(1.0 / (hi - lo))
    lo32 = np.float32(lo)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    two = np.float32(2.0)
    c1f = np.float32(c1)
    c2f = np.float32(c2)
    normf = np.float32(norm)
    for job in prange(batch * bands):
        b = job // bands
        start = (job % bands) * band_rows
        end = min(start + band_rows, rows_out)
        ring = np.empty((k, 5, cols), dtype=np.float32)
        ring_bad = np.empty((k, cols), dtype=np.float32)
        x = np.empty(width, dtype=np.float32)
        y = np.empty(width, dtype=np.float32)
        xx = np.empty(width, dtype=np.float32)
        yy = np.empty(width, dtype=np.float32)
        xy = np.empty(width, dtype=np.float32)
        bad_prefix = np.empty(width + 1, dtype=np.float32)
        acc = np.empty((5, cols), dtype=np.float32)
        bad = np.empty(cols, dtype=np.float32)
        windows = zero
        total = 0.0
        for r in range(start, end + k - 1):
            gr = gt[b, r]
            pr = pred[b, r]
            mr = mask[b, r]
            for j in range(width):
                xv = min(max((gr[j] - lo32) * scale, zero), one)
                yv = min(max((pr[j] - lo32) * scale, zero), one)
                x[j] = xv
                y[j] = yv
                xx[j] = xv * xv
                yy[j] = yv * yv
                xy[j] = xv * yv
            running = zero
            bad_prefix[0] = zero
            for j in range(width):
                running += zero if mr[j] else one
                bad_prefix[j + 1] = running
            slot = r % k
            h = ring[slot]
            for j in range(cols):
                h[0, j] = x[j] * taps[0]
                h[1, j] = y[j] * taps[0]
                h[2, j] = xx[j] * taps[0]
                h[3, j] = yy[j] * taps[0]
                h[4, j] = xy[j] * taps[0]
            for t in range(1, k):
                w = taps[t]
                for j in range(cols):
                    h[0, j] += x[j + t] * w
                    h[1, j] += y[j + t] * w
                    h[2, j] += xx[j + t] * w
                    h[3, j] += yy[j + t] * w
                    h[4, j] += xy[j + t] * w
            rb = ring_bad[slot]
            for j in range(cols):
                rb[j] = bad_prefix[j + k] - bad_prefix[j]
            i = r - (k - 1)  # the output row whose window ends at input row r
            if i < start:
                continue
            first = ring[i % k]
            for m in range(5):
                for j in range(cols):
                    acc[m, j] = first[m, j] * taps[0]
            for j in range(cols):
                bad[j] = ring_bad[i % k, j]
            for t in range(1, k):
                hr = ring[(i + t) % k]
                w = taps[t]
                for m in range(5):
                    for j in range(cols):
                        acc[m, j] += hr[m, j] * w
                br = ring_bad[(i + t) % k]
                for j in range(cols):
                    bad[j] += br[j]
            for j in range(cols):
                mx = acc[0, j]
                my = acc[1, j]
                mx2 = mx * mx
                my2 = my * my
                mxy = mx * my
                vx = (acc[2, j] - mx2) * normf
                vy = (acc[3, j] - my2) * normf
                vxy = (acc[4, j] - mxy) * normf
                s = ((two * mxy + c1f) * (two * vxy + c2f)) / ((mx2 + my2 + c1f) * (vx + vy + c2f))
                ok = bad[j] == zero
                windows += one if ok else zero
                total += np.float64(s) if ok else 0.0
        partial[job, 0] = windows
        partial[job, 1] = total
    out = np.zeros((batch, 2), dtype=np.float64)
    for job in range(batch * bands):
        out[job // bands] += partial[job]
    return out
