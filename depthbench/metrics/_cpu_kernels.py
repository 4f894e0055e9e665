"""Fused numba kernels for the CPU path of the structure-quality families (ssim, edge_f1, normals).

Each kernel computes exactly the statistics of the family's torch path (same windows, same
validity tests, same per-pixel formulas in float32) in one pass over (image, row-band) jobs run
in parallel: the filtered rows of a band stay in the L1/L2 cache instead of every intermediate
map making a round trip to memory, which is what bounded the torch shift-and-add path on CPU.

Precision (as the torch path): inputs, filters and per-pixel terms in float32; per-band sums in
float64, counts in float32 (exact below 2^24 pixels per band). Only the order of float32 additions
differs from torch (and the normals' atan is a float32 polynomial, not SLEEF's), so sums agree to
~1e-6 relative and a count can differ by a pixel lying within float32 rounding of a threshold
(tests/test_quality_cpu_kernels.py). Invalid pixels are excluded by selects, so a NaN there does
not reach a sum (the torch path multiplies by the mask, where NaN · 0 = NaN).

``fastmath`` allows reassociation (and, for SSIM, contraction to FMA) so LLVM vectorises the float64
reductions and the filters; no flag changes NaN/inf semantics or a comparison. The edge and normal
kernels are compiled without contraction so their per-pixel values round as torch's do before the
thresholds. ``error_model="numpy"``: numba's default Python error model adds a zero-division check
to every float division, which stops LLVM from vectorising the loop.
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


@njit(cache=True, fastmath=_FASTMATH, nogil=True, error_model="numpy")
def _correlate_row(src: np.ndarray, dst: np.ndarray, taps: np.ndarray) -> None:  # pragma: no cover - numba
    """dst[j] = Σ_t taps[t] · src[j + t] for j < len(dst). The 11- and 7-tap cases are written out
    so each output is one register sum (a loop over taps re-reads and re-writes dst per tap)."""
    n = dst.shape[0]
    k = taps.shape[0]
    if k == 11:
        w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10 = (taps[0], taps[1], taps[2], taps[3], taps[4], taps[5],
                                                       taps[6], taps[7], taps[8], taps[9], taps[10])
        for j in range(n):
            dst[j] = (src[j] * w0 + src[j + 1] * w1 + src[j + 2] * w2 + src[j + 3] * w3 + src[j + 4] * w4
                      + src[j + 5] * w5 + src[j + 6] * w6 + src[j + 7] * w7 + src[j + 8] * w8 + src[j + 9] * w9
                      + src[j + 10] * w10)
    elif k == 7:
        w0, w1, w2, w3, w4, w5, w6 = taps[0], taps[1], taps[2], taps[3], taps[4], taps[5], taps[6]
        for j in range(n):
            dst[j] = (src[j] * w0 + src[j + 1] * w1 + src[j + 2] * w2 + src[j + 3] * w3 + src[j + 4] * w4
                      + src[j + 5] * w5 + src[j + 6] * w6)
    else:
        for j in range(n):
            dst[j] = src[j] * taps[0]
        for t in range(1, k):
            w = taps[t]
            for j in range(n):
                dst[j] += src[j + t] * w


@njit(cache=True, fastmath=_FASTMATH, nogil=True, error_model="numpy")
def _combine_rows(ring: np.ndarray, slots: np.ndarray, m: int, dst: np.ndarray, taps: np.ndarray) -> None:  # pragma: no cover - numba
    """dst[j] = Σ_t taps[t] · ring[slots[t], m, j] (the vertical filter over a ring of rows),
    written out for 11 and 7 taps as ``_correlate_row``."""
    n = dst.shape[0]
    k = taps.shape[0]
    if k == 11:
        r0, r1, r2, r3 = ring[slots[0], m], ring[slots[1], m], ring[slots[2], m], ring[slots[3], m]
        r4, r5, r6, r7 = ring[slots[4], m], ring[slots[5], m], ring[slots[6], m], ring[slots[7], m]
        r8, r9, r10 = ring[slots[8], m], ring[slots[9], m], ring[slots[10], m]
        w0, w1, w2, w3, w4, w5, w6, w7, w8, w9, w10 = (taps[0], taps[1], taps[2], taps[3], taps[4], taps[5],
                                                       taps[6], taps[7], taps[8], taps[9], taps[10])
        for j in range(n):
            dst[j] = (r0[j] * w0 + r1[j] * w1 + r2[j] * w2 + r3[j] * w3 + r4[j] * w4 + r5[j] * w5 + r6[j] * w6
                      + r7[j] * w7 + r8[j] * w8 + r9[j] * w9 + r10[j] * w10)
    elif k == 7:
        r0, r1, r2, r3 = ring[slots[0], m], ring[slots[1], m], ring[slots[2], m], ring[slots[3], m]
        r4, r5, r6 = ring[slots[4], m], ring[slots[5], m], ring[slots[6], m]
        w0, w1, w2, w3, w4, w5, w6 = taps[0], taps[1], taps[2], taps[3], taps[4], taps[5], taps[6]
        for j in range(n):
            dst[j] = r0[j] * w0 + r1[j] * w1 + r2[j] * w2 + r3[j] * w3 + r4[j] * w4 + r5[j] * w5 + r6[j] * w6
    else:
        for j in range(n):
            dst[j] = ring[slots[0], m, j] * taps[0]
        for t in range(1, k):
            w = taps[t]
            for j in range(n):
                dst[j] += ring[slots[t], m, j] * w


@njit(parallel=True, cache=True, fastmath=_FASTMATH, nogil=True, error_model="numpy")
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
        moments = np.empty((5, width), dtype=np.float32)  # x, y, x², y², xy of one input row
        x = moments[0]
        y = moments[1]
        xx = moments[2]
        yy = moments[3]
        xy = moments[4]
        slots = np.empty(k, dtype=np.int64)
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
            for m in range(5):
                _correlate_row(moments[m], ring[slot, m], taps)
            rb = ring_bad[slot]
            for j in range(cols):
                rb[j] = bad_prefix[j + k] - bad_prefix[j]
            i = r - (k - 1)  # the output row whose window ends at input row r
            if i < start:
                continue
            for t in range(k):
                slots[t] = (i + t) % k
            for m in range(5):
                _combine_rows(ring, slots, m, acc[m], taps)
            for j in range(cols):
                bad[j] = ring_bad[slots[0], j]
            for t in range(1, k):
                br = ring_bad[slots[t]]
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


# ---------------------------------------------------------------------------------------------
# Sobel edges


@njit(parallel=True, cache=True, fastmath=_FASTMATH_NO_FMA, nogil=True, error_model="numpy")
def edge_stats_numba(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, thresholds: np.ndarray,
                     band_rows: int) -> np.ndarray:  # pragma: no cover - numba
    """B×10 (counted pixels, then TP, predicted, GT edges per threshold) of the 3×3 Sobel
    magnitudes of pred and gt (valid mode), over pixels whose 3×3 neighbourhood is all valid.

    gx = [1 2 1]ᵀ ⊗ [−1 0 1] and gy its transpose, evaluated in torch's order (horizontal taps, then
    vertical, ((r0 + 2 r1) + r2)); edges compare |∇d|² = gx² + gy² with t² in float32.
    """
    batch, height, width = pred.shape
    rows_out = height - 2
    cols = width - 2
    bands = (rows_out + band_rows - 1) // band_rows
    nt = thresholds.shape[0]
    partial = np.zeros((batch * bands, 1 + 3 * nt), dtype=np.float64)
    t2 = np.empty(nt, dtype=np.float32)
    for t in range(nt):
        t2[t] = np.float32(thresholds[t] * thresholds[t])
    two = np.float32(2.0)
    zero = np.float32(0.0)
    one = np.float32(1.0)
    for job in prange(batch * bands):
        b = job // bands
        start = (job % bands) * band_rows
        end = min(start + band_rows, rows_out)
        mag_p = np.empty(cols, dtype=np.float32)
        mag_g = np.empty(cols, dtype=np.float32)
        valid = np.empty(cols, dtype=np.float32)
        counts = np.zeros(1 + 3 * nt, dtype=np.float32)
        for i in range(start, end):
            for src in range(2):
                d = pred[b] if src == 0 else gt[b]
                out = mag_p if src == 0 else mag_g
                d0 = d[i]
                d1 = d[i + 1]
                d2 = d[i + 2]
                for j in range(cols):
                    gx = ((d0[j + 2] - d0[j]) + two * (d1[j + 2] - d1[j])) + (d2[j + 2] - d2[j])
                    top = (d0[j] + two * d0[j + 1]) + d0[j + 2]
                    bottom = (d2[j] + two * d2[j + 1]) + d2[j + 2]
                    gy = bottom - top
                    out[j] = gx * gx + gy * gy
            m0 = mask[b, i]
            m1 = mask[b, i + 1]
            m2 = mask[b, i + 2]
            for j in range(cols):
                ok = (m0[j] & m0[j + 1] & m0[j + 2] & m1[j] & m1[j + 1] & m1[j + 2]
                      & m2[j] & m2[j + 1] & m2[j + 2])
                valid[j] = one if ok else zero
            n = zero
            for j in range(cols):
                n += valid[j]
            counts[0] += n
            for t in range(nt):
                thr = t2[t]
                tp = zero
                np_ = zero
                ng = zero
                for j in range(cols):
                    ep = valid[j] if mag_p[j] > thr else zero
                    eg = valid[j] if mag_g[j] > thr else zero
                    tp += ep * eg
                    np_ += ep
                    ng += eg
                counts[1 + 3 * t] += tp
                counts[2 + 3 * t] += np_
                counts[3 + 3 * t] += ng
        for c in range(1 + 3 * nt):
            partial[job, c] = counts[c]
    out = np.zeros((batch, 1 + 3 * nt), dtype=np.float64)
    for job in range(batch * bands):
        out[job // bands] += partial[job]
    return out


# ---------------------------------------------------------------------------------------------
# Surface normals

_RAD_TO_DEG = np.float32(180.0 / math.pi)
_PI_F32 = np.float32(math.pi)


@njit(inline="always", fastmath=_FASTMATH_NO_FMA, error_model="numpy")
def _atan_nonneg(x: np.float32) -> np.float32:  # pragma: no cover - numba
    """atan x for x ≥ 0 (inf → π/2) in float32, branch-free so LLVM vectorises it (a libm call
    cannot be). Range reduction to |x| ≤ tan(π/8) and the degree-9 odd minimax polynomial of
    Cephes' atanf (relative error ≈ 2e-7, float32 resolution)."""
    big = x > np.float32(2.414213562373095)
    mid = x > np.float32(0.4142135623730950)
    y0 = np.float32(math.pi / 2) if big else (np.float32(math.pi / 4) if mid else np.float32(0.0))
    # One division of selected operands (−1/x, (x − 1)/(x + 1) or x/1) keeps the body branch-free.
    num = np.float32(-1.0) if big else (x - np.float32(1.0) if mid else x)
    den = x if big else (x + np.float32(1.0) if mid else np.float32(1.0))
    xr = num / den
    z = xr * xr
    poly = (((np.float32(8.05374449538e-2) * z - np.float32(1.38776856032e-1)) * z + np.float32(1.99777106478e-1)) * z
            - np.float32(3.33329491539e-1)) * z * xr + xr
    return y0 + poly


@njit(cache=True, fastmath=_FASTMATH_NO_FMA, nogil=True, error_model="numpy")
def _normal_band(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, k: np.ndarray, geometric: bool, start: int,
                 end: int, row: np.ndarray) -> None:  # pragma: no cover - numba
    """Statistics of output rows start..end−1 of one image into ``row`` (see normal_stats_numba).
    A plain (not parfor-lowered) function: LLVM vectorises its column loops, which it did not
    inside the prange body (measured 3× slower there)."""
    width = pred.shape[1]
    cols = width - 2
    zero = np.float32(0.0)
    one = np.float32(1.0)
    half = np.float32(0.5)
    fx = np.float32(k[0]) if geometric else one
    fy = np.float32(k[1]) if geometric else one
    cx = np.float32(k[2]) if geometric else one
    cy = np.float32(k[3]) if geometric else one
    au = np.empty(width, dtype=np.float32)  # (u − cx)/fx per column
    for u in range(width):
        au[u] = (np.float32(u) - cx) / fx
    na = np.empty((6, cols), dtype=np.float32)  # normals of pred (x, y, z) then gt, one row
    ok = np.empty(cols, dtype=np.bool_)
    n = zero
    c11 = zero
    c22 = zero
    c30 = zero
    s_cos = 0.0
    s_angle = 0.0
    for i in range(start, end):
        c_top = (np.float32(i) - cy) / fy
        c_mid = (np.float32(i + 1) - cy) / fy
        c_bot = (np.float32(i + 2) - cy) / fy
        for src in range(2):
            d = pred if src == 0 else gt
            d0 = d[i]
            d1 = d[i + 1]
            d2 = d[i + 2]
            nx = na[3 * src]
            ny = na[3 * src + 1]
            nz = na[3 * src + 2]
            if geometric:
                # P = z·(a, c, 1); du = P(u+1) − P(u−1), dv = P(v+1) − P(v−1); n = du × dv
                for j in range(cols):
                    zl = d1[j]
                    zr = d1[j + 2]
                    zt = d0[j + 1]
                    zb = d2[j + 1]
                    dux = zr * au[j + 2] - zl * au[j]
                    duy = zr * c_mid - zl * c_mid
                    duz = zr - zl
                    dvx = zb * au[j + 1] - zt * au[j + 1]
                    dvy = zb * c_bot - zt * c_top
                    dvz = zb - zt
                    nx[j] = duy * dvz - duz * dvy
                    ny[j] = duz * dvx - dux * dvz
                    nz[j] = dux * dvy - duy * dvx
            else:
                for j in range(cols):
                    nx[j] = (d1[j] - d1[j + 2]) * half
                    ny[j] = (d0[j + 1] - d2[j + 1]) * half
                    nz[j] = one
        m0 = mask[i]
        m1 = mask[i + 1]
        m2 = mask[i + 2]
        for j in range(cols):
            ok[j] = m1[j + 1] & m1[j] & m1[j + 2] & m0[j + 1] & m2[j + 1]
        for j in range(cols):
            ax = na[0, j]
            ay = na[1, j]
            az = na[2, j]
            bx = na[3, j]
            by = na[4, j]
            bz = na[5, j]
            dot = ax * bx + ay * by + az * bz
            cx_ = ay * bz - az * by
            cy_ = az * bx - ax * bz
            cz_ = ax * by - ay * bx
            sin = math.sqrt(cx_ * cx_ + cy_ * cy_ + cz_ * cz_)
            norms = math.sqrt((ax * ax + ay * ay + az * az) * (bx * bx + by * by + bz * bz))
            cos = dot / norms
            t = _atan_nonneg(sin / abs(dot))
            angle = (t if dot >= zero else _PI_F32 - t) * _RAD_TO_DEG
            valid = ok[j]
            w = one if valid else zero
            n += w
            s_cos += np.float64(one - cos) if valid else 0.0
            s_angle += np.float64(angle) if valid else 0.0
            c11 += w if angle < np.float32(11.25) else zero
            c22 += w if angle < np.float32(22.5) else zero
            c30 += w if angle < np.float32(30.0) else zero
    row[0] = n
    row[1] = s_cos
    row[2] = s_angle
    row[3] = c11
    row[4] = c22
    row[5] = c30


@njit(parallel=True, cache=True, fastmath=_FASTMATH_NO_FMA, nogil=True, error_model="numpy")
def normal_stats_numba(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, k: np.ndarray, present: np.ndarray,
                       band_rows: int) -> np.ndarray:  # pragma: no cover - numba
    """B×6 (counted pixels, Σ(1 − cos), Σ angle°, counts under 11.25°, 22.5°, 30°) of the normals
    of pred and gt: back-projected with intrinsics k[b] = (fx, fy, cx, cy) where present[b], else
    image-space (−∂z/∂u, −∂z/∂v, 1); central differences, pixels whose 4 neighbours are valid.
    angle = atan2(|a × b|, a · b) in degrees."""
    batch, height = pred.shape[0], pred.shape[1]
    rows_out = height - 2
    bands = (rows_out + band_rows - 1) // band_rows
    partial = np.zeros((batch * bands, 6), dtype=np.float64)
    for job in prange(batch * bands):
        b = job // bands
        start = (job % bands) * band_rows
        end = min(start + band_rows, rows_out)
        _normal_band(pred[b], gt[b], mask[b], k[b], present[b], start, end, partial[job])
    out = np.zeros((batch, 6), dtype=np.float64)
    for job in range(batch * bands):
        out[job // bands] += partial[job]
    return out
