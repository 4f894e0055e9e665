"""mSSIM between gray-scale visualisations of ground truth and prediction (DenseDepth, Alhashim &
Wonka 2018 = seed 000, Table 3; SSIM of Wang et al., IEEE TIP 2004).

Visualisation: v = clip((d − min_depth) / (max_depth − min_depth), 0, 1) with the protocol's depth
caps (``MetricBatch.params``), so the dynamic range is L = 1 for every dataset.

SSIM of windows x, y (weights w summing to 1; μ, σ², σ_xy weighted moments):
    SSIM = (2 μx μy + C1)(2 σxy + C2) / ((μx² + μy² + C1)(σx² + σy² + C2)),  C1 = (0.01 L)², C2 = (0.03 L)².

- family ``ssim`` (output ``mssim``): Gaussian window 11×11, σ = 1.5 (Wang et al.; skimage with
  ``gaussian_weights=True, sigma=1.5, use_sample_covariance=False``);
- family ``ssim_uniform7`` (output ``mssim_uniform7``): uniform 7×7 window with the sample
  covariance (σ² scaled by N/(N − 1), N = 49): scikit-image's default ``structural_similarity``.

Mask-aware: SSIM is evaluated only at windows lying fully inside the image and fully inside the
protocol's valid mask (no padding, no filled GT); an image's mSSIM is the mean over those windows,
and images with no such window are skipped (statistic count 0). With an all-valid mask this is
exactly skimage's mean (which drops the border of half a window). Sparse GT (KITTI LiDAR) has no
fully valid window: the family then skips every image. mSSIM is a mean over images (per_image).

CPU inputs (numpy, CPU tensors) take a fused numba kernel (``_cpu_kernels.ssim_stats_numba``:
one pass over row bands, 5 moments filtered in a ring of rows); CUDA tensors the torch path
below. Both compute the same statistics in float32 (agreement ~1e-6 relative).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from depthbench.metrics import filters
from depthbench.metrics._cpu_kernels import cpu_arrays, ssim_stats_numba
from depthbench.metrics.core import MetricBatch, MetricFamily, register_metric
from depthbench.metrics.filters import (
    banded_sum,
    correlate_valid,
    erode_valid,
    gaussian_taps,
    image_sums,
    to_numpy_stats,
    to_tensors,
)

GAUSSIAN_TAPS = gaussian_taps(1.5, 5)  # 11 taps: skimage's truncate=3.5 → radius int(3.5·1.5 + 0.5) = 5
UNIFORM7_TAPS = [1.0 / 7.0] * 7
K1, K2 = 0.01, 0.03


def visualise(depth: torch.Tensor, min_depth: float, max_depth: float) -> torch.Tensor:
    """Gray-scale visualisation in [0, 1]: clip((d − min_depth)/(max_depth − min_depth), 0, 1)."""
    return ((depth - min_depth) * (1.0 / (max_depth - min_depth))).clamp_(0.0, 1.0)


def ssim_stats_tensor(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, taps: list[float],
                      sample_covariance: bool = False, data_range: float = 1.0) -> torch.Tensor:
    """B×2 tensor (windows counted, Σ SSIM over them) of images x, y (B×H×W, float32)."""
    if x.shape[-2] < len(taps) or x.shape[-1] < len(taps):
        return torch.zeros((x.shape[0], 2), dtype=torch.float64, device=x.device)

    def band(xb: torch.Tensor, yb: torch.Tensor, mb: torch.Tensor) -> torch.Tensor:
        return _ssim_band(xb, yb, mb, taps, sample_covariance, data_range)

    return banded_sum(band, [x, y, mask], halo=len(taps) - 1)


def _ssim_band(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor, taps: list[float],
               sample_covariance: bool, data_range: float) -> torch.Tensor:
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    maps = torch.empty((x.shape[0], 5, *x.shape[1:]), dtype=x.dtype, device=x.device)
    maps[:, 0] = x
    maps[:, 1] = y
    torch.mul(x, x, out=maps[:, 2])
    torch.mul(y, y, out=maps[:, 3])
    torch.mul(x, y, out=maps[:, 4])
    m = correlate_valid(maps, taps, taps)
    mx, my, exx, eyy, exy = m.unbind(1)
    mx2, my2, mxy = mx * mx, my * my, mx * my
    vx, vy, vxy = exx.sub_(mx2), eyy.sub_(my2), exy.sub_(mxy)
    if sample_covariance:
        n = len(taps) ** 2
        norm = n / (n - 1.0)
        vx, vy, vxy = vx.mul_(norm), vy.mul_(norm), vxy.mul_(norm)
    s = ((2.0 * mxy + c1) * (2.0 * vxy + c2)) / ((mx2 + my2 + c1) * (vx + vy + c2))
    valid = erode_valid(mask, len(taps))
    count = image_sums(valid)
    total = image_sums(s.mul_(valid.to(s.dtype)))
    return torch.stack([count, total], dim=1)


def _caps(params: dict[str, Any]) -> tuple[float, float]:
    if "max_depth" not in params:
        raise ValueError("ssim needs params['max_depth'] (the protocol's depth cap, the visualisation range)")
    return float(params.get("min_depth", 0.0)), float(params["max_depth"])


def ssim_stats(pred: Any, gt: Any, mask: Any, min_depth: float, max_depth: float, window: str = "gaussian11",
               backend: str = "auto") -> np.ndarray:
    """B×2 numpy statistics (windows, Σ SSIM) of the visualisations of pred and gt (metres).

    ``backend``: ``"auto"`` (numba kernel for numpy and CPU-tensor inputs, torch for CUDA tensors),
    ``"torch"`` or ``"numba"`` (forced; numba needs CPU inputs).
    """
    if window not in ("gaussian11", "uniform7"):
        raise ValueError(f"window={window!r}: expected 'gaussian11' or 'uniform7'")
    taps, sample_covariance = (GAUSSIAN_TAPS, False) if window == "gaussian11" else (UNIFORM7_TAPS, True)
    arrays = None if backend == "torch" else cpu_arrays(pred, gt, mask)
    if arrays is not None:
        p, g, m = arrays
        k = len(taps)
        if p.shape[1] < k or p.shape[2] < k:
            return np.zeros((p.shape[0], 2), dtype=np.float64)
        n = k * k
        norm = n / (n - 1.0) if sample_covariance else 1.0
        return ssim_stats_numba(p, g, m, np.asarray(taps, dtype=np.float32), float(min_depth), float(max_depth),
                                norm, K1**2, K2**2, filters.CPU_BAND_ROWS)
    if backend == "numba":
        raise ValueError("backend='numba' needs numpy or CPU-tensor inputs")
    p, g, m = to_tensors(pred, gt, mask)
    x, y = visualise(g, min_depth, max_depth), visualise(p, min_depth, max_depth)
    return to_numpy_stats(ssim_stats_tensor(x, y, m, taps, sample_covariance=sample_covariance))


def _finalize(name: str):  # type: ignore[no-untyped-def]
    def finalize(s: Any) -> dict[str, float]:
        return {name: float(s[1] / s[0]) if s[0] > 0 else float("nan")}

    return finalize


def _family_stats(window: str):  # type: ignore[no-untyped-def]
    def stats(batch: MetricBatch) -> Any:
        lo, hi = _caps(batch.params)
        return ssim_stats(batch.pred, batch.gt, batch.mask, lo, hi, window)

    return stats


SSIM = register_metric(MetricFamily(
    name="ssim", outputs=("mssim",), higher_is_better={"mssim": True}, stat_names=("windows", "ssim_sum"),
    stats=_family_stats("gaussian11"), finalize=_finalize("mssim"), averaging="per_image",
    description="mSSIM of depth visualisations (Gaussian 11×11, σ=1.5; fully valid windows only)",
))
SSIM_UNIFORM7 = register_metric(MetricFamily(
    name="ssim_uniform7", outputs=("mssim_uniform7",), higher_is_better={"mssim_uniform7": True},
    stat_names=("windows", "ssim_sum"), stats=_family_stats("uniform7"), finalize=_finalize("mssim_uniform7"),
    averaging="per_image",
    description="mSSIM of depth visualisations (uniform 7×7, sample covariance: skimage default)",
))


def mssim(pred: Any, gt: Any, mask: Any, min_depth: float, max_depth: float, window: str = "gaussian11") -> float:
    """Mean over images of mSSIM (see module docstring); NaN when no image has a valid window."""
    s = ssim_stats(pred, gt, mask, min_depth, max_depth, window)
    s = s[s[:, 0] > 0]
    return float((s[:, 1] / s[:, 0]).mean()) if len(s) else float("nan")
