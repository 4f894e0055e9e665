"""Eigen et al. depth metrics (Eigen, Puhrsch & Fergus, NIPS 2014, §4; as computed by the
evaluation code of monodepth2 and DenseDepth).

With p the prediction and g the ground truth over the valid pixels V (n = |V|) and
L = ln p − ln g:

- abs_rel  = (1/n) Σ |p − g| / g
- sq_rel   = (1/n) Σ (p − g)² / g
- rmse     = sqrt((1/n) Σ (p − g)²)
- rmse_log = sqrt((1/n) Σ L²)
- log10    = (1/n) Σ |log10 p − log10 g| = (1/n) Σ |L| / ln 10
- silog    = 100 · sqrt((1/n) Σ L² − ((1/n) Σ L)²)   (scale-invariant log error, Eigen eq. 4 with
             λ = 1, in the KITTI depth benchmark's ×100 form)
- delta_k  = (1/n) #{ max(p/g, g/p) < 1.25^k },  k = 1, 2, 3 (strict inequality)

"pooled" sums these over all valid pixels of all images before dividing; "per_image" computes them
per image and averages over images (see metrics.core).

The CPU path is one fused numba pass over (pred, gt, mask) in parallel chunks, branch-free so LLVM
vectorises it; CUDA tensors use the same formulas in torch ops with float64 sums.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numba import njit, prange

from depthbench.metrics.core import MetricBatch, MetricFamily, register_metric

EIGEN_OUTPUTS = ("abs_rel", "sq_rel", "rmse", "rmse_log", "log10", "silog", "delta1", "delta2", "delta3")
EIGEN_STATS = ("n", "abs_rel", "sq_rel", "sq_err", "log_diff", "log_diff_sq", "abs_log_diff", "d1", "d2", "d3")
HIGHER_IS_BETTER = {name: name.startswith("delta") for name in EIGEN_OUTPUTS}
_LN10 = math.log(10.0)
_CHUNK = 1 << 15


# Reassociation lets LLVM vectorise the float64 reductions; no flag changes a single division,
# comparison or NaN/inf semantics, so the δ counts equal numpy's exactly.
_FASTMATH = {"reassoc", "contract", "nsz"}
_LN2_F32 = np.float32(math.log(2.0))


@njit(inline="always", fastmath=_FASTMATH)
def _log_from_float32_bits(bits: np.int32) -> np.float32:  # pragma: no cover - numba
    """ln x of a positive finite float32 x given its bit pattern, in float32 arithmetic that LLVM
    vectorises 8 lanes wide (a libm log call cannot be vectorised).

    x = 2^e · m with e the unbiased exponent and m = 1 + mantissa/2^23 in [1, 2), folded to
    [√½, √2); ln m = 2 artanh t = 2(t + t³/3 + … + t⁹/9) with t = (m − 1)/(m + 1), |t| ≤ 0.1716,
    whose truncation error (< 3e-9) is below float32 resolution.
    """
    e = np.float32((bits >> 23) - 127)
    m = np.float32(1.0) + np.float32(bits & 0x7FFFFF) * np.float32(1.0 / 8388608.0)
    fold = m > np.float32(1.4142135)
    m = m * np.float32(0.5) if fold else m
    e = e + np.float32(1.0) if fold else e
    t = (m - np.float32(1.0)) / (m + np.float32(1.0))
    t2 = t * t
    series = np.float32(1.0) + t2 * (np.float32(1 / 3) + t2 * (np.float32(0.2) + t2 * (np.float32(1 / 7) + t2 * np.float32(1 / 9))))
    return e * _LN2_F32 + np.float32(2.0) * t * series


@njit(parallel=True, cache=True, fastmath=_FASTMATH, nogil=True)
def _eigen_stats_f32(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """Fused statistics of float32 inputs (B×N): one pass for the linear terms and δ counts, one
    for the logs, over chunks of 2^15 pixels in parallel.

    Per-pixel terms are float32 (as the inputs), accumulated in float64; counts are float32, exact
    up to 2^24 > chunk size. |p − g|/g = |r − 1| and (p − g)²/g = (p − g)(r − 1) with r = p/g reuse
    the ratio, so there is no float64 division in the loop.
    """
    batch, size = pred.shape
    chunks = (size + _CHUNK - 1) // _CHUNK
    partial = np.zeros((batch * chunks, 10), dtype=np.float64)
    for job in prange(batch * chunks):
        b = job // chunks
        start = (job % chunks) * _CHUNK
        end = min(start + _CHUNK, size)
        pb = pred[b, start:end]
        gb = gt[b, start:end]
        mb = mask[b, start:end]
        ratio_buf = np.empty(end - start, dtype=np.float32)
        one = np.float32(1.0)
        zero = np.float32(0.0)
        n = zero
        c1 = zero
        c2 = zero
        c3 = zero
        s_abs = 0.0
        s_sqr = 0.0
        s_sq = 0.0
        for i in range(end - start):
            valid = mb[i]
            # Invalid pixels become p = g = 1: every term is then exactly 0, with no branch.
            p = pb[i] if valid else one
            g = gb[i] if valid else one
            w = one if valid else zero
            r = p / g
            ratio_buf[i] = r
            ratio = max(r, g / p)  # in float32, as numpy's reference computes it
            diff = p - g
            r_minus_1 = r - one
            n += w
            s_abs += np.float64(abs(r_minus_1))
            s_sqr += np.float64(diff * r_minus_1)
            s_sq += np.float64(diff * diff)
            c1 += w if ratio < np.float32(1.25) else zero
            c2 += w if ratio < np.float32(1.5625) else zero
            c3 += w if ratio < np.float32(1.953125) else zero
        bits = ratio_buf.view(np.int32)
        s_l = 0.0
        s_l2 = 0.0
        s_al = 0.0
        for j in range(end - start):
            log_ratio = _log_from_float32_bits(bits[j])
            s_l += np.float64(log_ratio)
            s_l2 += np.float64(log_ratio * log_ratio)
            s_al += np.float64(abs(log_ratio))
        row = partial[job]
        row[0] = n
        row[1] = s_abs
        row[2] = s_sqr
        row[3] = s_sq
        row[4] = s_l
        row[5] = s_l2
        row[6] = s_al
        row[7] = c1
        row[8] = c2
        row[9] = c3
    out = np.zeros((batch, 10), dtype=np.float64)
    for job in range(batch * chunks):
        out[job // chunks] += partial[job]
    return out


@njit(parallel=True, cache=True, nogil=True)
def _eigen_stats_f64(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> np.ndarray:  # pragma: no cover - numba
    """Same statistics for float64 inputs, all in float64 with libm's log (nothing rounded)."""
    batch, size = pred.shape
    out = np.zeros((batch, 10), dtype=np.float64)
    for b in prange(batch):
        acc = np.zeros(10, dtype=np.float64)
        for i in range(size):
            if not mask[b, i]:
                continue
            p = pred[b, i]
            g = gt[b, i]
            diff = p - g
            log_ratio = math.log(p / g)
            ratio = max(p / g, g / p)
            acc[0] += 1.0
            acc[1] += abs(diff) / g
            acc[2] += diff * diff / g
            acc[3] += diff * diff
            acc[4] += log_ratio
            acc[5] += log_ratio * log_ratio
            acc[6] += abs(log_ratio)
            acc[7] += 1.0 if ratio < 1.25 else 0.0
            acc[8] += 1.0 if ratio < 1.5625 else 0.0
            acc[9] += 1.0 if ratio < 1.953125 else 0.0
        out[b] = acc
    return out


def _eigen_stats_torch(pred: Any, gt: Any, mask: Any) -> np.ndarray:
    """Same statistics with torch ops (CUDA, or CPU tensors when asked), float64 sums."""
    import torch

    one = torch.ones((), dtype=pred.dtype, device=pred.device)
    p = torch.where(mask, pred, one)
    g = torch.where(mask, gt, one)
    w = mask.to(torch.float64)
    p64, g64 = p.double(), g.double()
    diff = p64 - g64
    log_ratio = torch.log(p64 / g64)
    ratio = torch.maximum(g / p, p / g)
    terms = torch.stack(
        [
            w,
            diff.abs() / g64,
            diff * diff / g64,
            diff * diff,
            log_ratio,
            log_ratio * log_ratio,
            log_ratio.abs(),
            (ratio < 1.25) & mask,
            (ratio < 1.25**2) & mask,
            (ratio < 1.25**3) & mask,
        ]
    )
    return terms.to(torch.float64).flatten(2).sum(dim=2).T.cpu().numpy()


def eigen_stats(pred: Any, gt: Any, mask: Any, backend: str = "auto") -> np.ndarray:
    """B×10 additive statistics (``EIGEN_STATS`` order) of B×H×W (or H×W) inputs."""
    from depthbench.metrics.arrays import as_batched, is_torch

    if backend == "torch" or (backend == "auto" and is_torch(pred) and pred.device.type != "cpu"):
        pred_t, gt_t, mask_t = as_batched(pred, gt, mask, to="torch")
        return _eigen_stats_torch(pred_t, gt_t, mask_t)
    p, g, m = as_batched(pred, gt, mask, to="numpy")
    dtype = np.float64 if np.float64 in (p.dtype, g.dtype) else np.float32
    p = np.ascontiguousarray(p.reshape(p.shape[0], -1), dtype=dtype)
    g = np.ascontiguousarray(g.reshape(g.shape[0], -1), dtype=dtype)
    m = np.ascontiguousarray(m.reshape(m.shape[0], -1), dtype=np.bool_)
    kernel = _eigen_stats_f32 if dtype == np.float32 else _eigen_stats_f64
    return kernel(p, g, m)


def eigen_finalize(s: np.ndarray) -> dict[str, float]:
    """Metric values from one 10-vector of summed statistics (NaN when n = 0)."""
    n = s[0]
    if n <= 0:
        return {name: float("nan") for name in EIGEN_OUTPUTS}
    mean_l = s[4] / n
    mean_l2 = s[5] / n
    return {
        "abs_rel": s[1] / n,
        "sq_rel": s[2] / n,
        "rmse": math.sqrt(s[3] / n),
        "rmse_log": math.sqrt(mean_l2),
        "log10": s[6] / n / _LN10,
        "silog": 100.0 * math.sqrt(max(mean_l2 - mean_l * mean_l, 0.0)),
        "delta1": s[7] / n,
        "delta2": s[8] / n,
        "delta3": s[9] / n,
    }


EIGEN = register_metric(
    MetricFamily(
        name="eigen",
        outputs=EIGEN_OUTPUTS,
        higher_is_better=HIGHER_IS_BETTER,
        stat_names=EIGEN_STATS,
        stats=lambda batch: eigen_stats(batch.pred, batch.gt, batch.mask),
        finalize=eigen_finalize,
        description="Eigen et al. 2014 depth metrics: abs_rel, sq_rel, rmse, rmse_log, log10, silog, delta1..3",
    )
)


def eigen_metrics(
    pred: Any, gt: Any, mask: Any = None, average: str = "pooled", backend: str = "auto"
) -> dict[str, float]:
    """Eigen metrics of prediction vs ground truth over ``mask`` (default: gt > 0 and finite).

    ``pred``, ``gt``: H×W or B×H×W numpy arrays or torch tensors (CPU or CUDA), in metres, already
    aligned and clamped as the protocol requires; ``pred`` must be > 0 on the mask.
    ``average``: ``"pooled"`` (all valid pixels of all images) or ``"per_image"`` (mean of per-image
    values; images with no valid pixel are skipped). See the module docstring for the formulas.
    """
    from depthbench.metrics.arrays import default_mask
    from depthbench.metrics.core import MetricAccumulator

    if average not in ("pooled", "per_image"):
        raise ValueError(f"average={average!r}: expected 'pooled' or 'per_image'")
    if mask is None:
        mask = default_mask(gt)
    accumulator = MetricAccumulator(EIGEN)
    accumulator.update(eigen_stats(pred, gt, mask, backend=backend))
    return accumulator.compute(average)  # type: ignore[arg-type]
