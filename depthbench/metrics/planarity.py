"""Planarity errors on annotated planes (iBims-1: Koch et al., ECCV-W 2018, §4, ε_plan and ε_orie).

For each annotated plane (``MetricBatch.plane_masks``: per image a P×H×W bool array, intersected
with the protocol's valid mask, at least ``MIN_PLANE_PIXELS`` pixels), the valid pixels are
back-projected with the intrinsics, P(u, v) = z·((u − cx)/fx, (v − cy)/fy, 1), for the aligned
prediction and for the GT, and a plane is fitted to each cloud by total least squares: the normal
is the eigenvector of the smallest eigenvalue λ_min of the points' covariance.
- ``plane_flatness_cm``: 100 · sqrt(λ_min) of the predicted cloud = RMS distance (cm) of the
  predicted points to their own best plane (ε_plan: how flat the predicted plane is);
- ``plane_orientation_deg``: angle between the predicted and the GT plane normals, in degrees,
  folded to [0°, 90°] (normals have no sign) (ε_orie).
Per image the mean over its planes; then the mean over images (per_image). Images without plane
masks or intrinsics are skipped (statistic count 0), so datasets without plane annotation report
nothing.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from depthbench.metrics.core import MetricFamily, register_metric
from depthbench.metrics.filters import back_project, intrinsics_tensor, to_tensors
from depthbench.types import Intrinsics

MIN_PLANE_PIXELS = 16


def fit_planes(points: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Total-least-squares planes of a 3×N cloud under P×N 0/1 weights: (P×3 unit normals,
    P smallest covariance eigenvalues = mean squared distance to the plane)."""
    count = weights.sum(1, keepdim=True)
    mean = weights @ points.T / count  # P×3
    second = torch.einsum("pn,in,jn->pij", weights, points, points) / count[:, :, None]
    cov = second - mean[:, :, None] * mean[:, None, :]
    values, vectors = torch.linalg.eigh(cov)
    return vectors[:, :, 0], values[:, 0].clamp_min(0.0)


def planarity_stats(pred: Any, gt: Any, mask: Any, intrinsics: list[Intrinsics | None] | None,
                    plane_masks: list[np.ndarray | None] | None) -> np.ndarray:
    """B×3 numpy statistics (planes, Σ flatness cm, Σ orientation degrees)."""
    p, g, m = to_tensors(pred, gt, mask)
    batch = p.shape[0]
    out = np.zeros((batch, 3), dtype=np.float64)
    if intrinsics is None or plane_masks is None:
        return out
    k, _ = intrinsics_tensor(intrinsics, batch, p.device)
    for b in range(batch):
        planes = plane_masks[b] if b < len(plane_masks) else None
        if planes is None or intrinsics[b] is None or len(planes) == 0:
            continue
        planes_t = torch.as_tensor(np.asarray(planes, dtype=bool), device=p.device)
        w = (planes_t & m[b]).flatten(1).to(torch.float64)
        w = w[w.sum(1) >= MIN_PLANE_PIXELS]
        if len(w) == 0:
            continue
        clouds = back_project(torch.stack([p[b], g[b]]), k[b : b + 1].expand(2, 4)).flatten(2).double()
        n_pred, var_pred = fit_planes(clouds[0], w)
        n_gt, _ = fit_planes(clouds[1], w)
        cos = (n_pred * n_gt).sum(1).abs().clamp(max=1.0)
        sin = torch.linalg.cross(n_pred, n_gt, dim=1).norm(dim=1)
        angle = torch.rad2deg(torch.atan2(sin, cos))
        out[b] = (len(w), float((100.0 * var_pred.sqrt()).sum()), float(angle.sum()))
    return out


def planarity_finalize(s: Any) -> dict[str, float]:
    if s[0] <= 0:
        return {"plane_flatness_cm": float("nan"), "plane_orientation_deg": float("nan")}
    return {"plane_flatness_cm": float(s[1] / s[0]), "plane_orientation_deg": float(s[2] / s[0])}


PLANARITY = register_metric(MetricFamily(
    name="planarity", outputs=("plane_flatness_cm", "plane_orientation_deg"),
    higher_is_better={"plane_flatness_cm": False, "plane_orientation_deg": False},
    stat_names=("planes", "flatness_cm", "orientation_deg"),
    stats=lambda batch: planarity_stats(batch.pred, batch.gt, batch.mask, batch.intrinsics, batch.plane_masks),
    finalize=planarity_finalize, averaging="per_image",
    description="iBims-1 planarity: flatness (cm) and orientation error (°) on annotated planes",
))
