"""Sobel-edge F1 (DenseDepth, Alhashim & Wonka 2018 = seed 000, Table 3).

On depth in metres (the aligned prediction and the GT), the 3×3 Sobel gradients
gx = [1 2 1]ᵀ ⊗ [−1 0 1], gy = its transpose (OpenCV's ``Sobel(ksize=3)``, unnormalised) give the
magnitude |∇d| = sqrt(gx² + gy²); a pixel is an edge when |∇d| > t. Per image, over pixels whose
whole 3×3 neighbourhood is valid (so no gradient touches an invalid or cropped pixel):
precision P = |E_pred ∩ E_gt| / |E_pred|, recall R = |E_pred ∩ E_gt| / |E_gt|, F1 = 2PR / (P + R).
Conventions for empty sets (documented choice): P = 1 when the prediction has no edge, R = 1 when
the GT has no edge, F1 = 0 when P + R = 0 — so an edgeless prediction of an edgeless GT scores 1.
Thresholds t = 0.5 (the seed's; outputs ``edge_f1``, ``edge_precision``, ``edge_recall``), 0.25
(``edge_f1_025``) and 1.0 (``edge_f1_100``). Averaged over images (per_image).

CPU inputs (numpy, CPU tensors) take a fused numba kernel (``_cpu_kernels.edge_stats_numba``: both
Sobel magnitudes, the 3×3 validity test and the counts in one pass over row bands); CUDA tensors
the torch path below, with the same float32 gradients.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from depthbench.metrics import filters
from depthbench.metrics._cpu_kernels import cpu_arrays, edge_stats_numba
from depthbench.metrics.core import MetricFamily, register_metric
from depthbench.metrics.filters import (
    banded_sum,
    correlate_valid,
    erode_valid,
    image_sums,
    to_numpy_stats,
    to_tensors,
)

THRESHOLDS = (0.5, 0.25, 1.0)
EDGE_OUTPUTS = ("edge_f1", "edge_precision", "edge_recall", "edge_f1_025", "edge_f1_100")
EDGE_STATS = ("n", *(f"{k}_{t:g}" for t in THRESHOLDS for k in ("tp", "pred", "gt")))


def sobel_magnitude(depth: torch.Tensor) -> torch.Tensor:
    """|∇d| of …×H×W depth, valid mode ((H − 2) × (W − 2)), unnormalised 3×3 Sobel."""
    return sobel_squared_magnitude(depth).sqrt_()


def sobel_squared_magnitude(depth: torch.Tensor) -> torch.Tensor:
    """gx² + gy² (valid mode); edges are compared as |∇d|² > t², which saves the square root."""
    gx = correlate_valid(depth, [-1.0, 0.0, 1.0], [1.0, 2.0, 1.0])
    gy = correlate_valid(depth, [1.0, 2.0, 1.0], [-1.0, 0.0, 1.0])
    return gx.mul_(gx).addcmul_(gy, gy)


def edge_stats_tensor(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """B×10 tensor: counted pixels, then (true positives, predicted edges, GT edges) per threshold."""
    return banded_sum(_edge_band, [pred, gt, mask], halo=2)


def _edge_band(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    mag2 = sobel_squared_magnitude(torch.stack([pred, gt], dim=1))
    valid = erode_valid(mask, 3)
    cols = [valid]
    for t in THRESHOLDS:
        e_pred = (mag2[:, 0] > t * t) & valid
        e_gt = (mag2[:, 1] > t * t) & valid
        cols += [e_pred & e_gt, e_pred, e_gt]
    return torch.stack([image_sums(c) for c in cols], dim=1)


def edge_stats(pred: Any, gt: Any, mask: Any, backend: str = "auto") -> np.ndarray:
    """B×10 numpy statistics (``EDGE_STATS`` order) of depth in metres.

    ``backend``: ``"auto"`` (numba kernel for numpy and CPU-tensor inputs, torch for CUDA tensors),
    ``"torch"`` or ``"numba"`` (forced; numba needs CPU inputs).
    """
    arrays = None if backend == "torch" else cpu_arrays(pred, gt, mask)
    if arrays is not None:
        p, g, m = arrays
        if p.shape[1] < 3 or p.shape[2] < 3:
            return np.zeros((p.shape[0], len(EDGE_STATS)), dtype=np.float64)
        return edge_stats_numba(p, g, m, np.asarray(THRESHOLDS, dtype=np.float64), filters.CPU_BAND_ROWS)
    if backend == "numba":
        raise ValueError("backend='numba' needs numpy or CPU-tensor inputs")
    return to_numpy_stats(edge_stats_tensor(*to_tensors(pred, gt, mask)))


def _prf(tp: float, n_pred: float, n_gt: float) -> tuple[float, float, float]:
    precision = tp / n_pred if n_pred > 0 else 1.0
    recall = tp / n_gt if n_gt > 0 else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return precision, recall, f1


def edge_finalize(s: Any) -> dict[str, float]:
    if s[0] <= 0:
        return {name: float("nan") for name in EDGE_OUTPUTS}
    p05, r05, f05 = _prf(s[1], s[2], s[3])
    values = {"edge_f1": f05, "edge_precision": p05, "edge_recall": r05,
              "edge_f1_025": _prf(s[4], s[5], s[6])[2], "edge_f1_100": _prf(s[7], s[8], s[9])[2]}
    return {name: float(v) for name, v in values.items()}


EDGE_F1 = register_metric(MetricFamily(
    name="edge_f1", outputs=EDGE_OUTPUTS, higher_is_better={n: True for n in EDGE_OUTPUTS},
    stat_names=EDGE_STATS, stats=lambda batch: edge_stats(batch.pred, batch.gt, batch.mask),
    finalize=edge_finalize, averaging="per_image",
    description="Sobel-edge precision/recall/F1 of depth (thresholds 0.5, 0.25, 1.0 m per pixel)",
))
