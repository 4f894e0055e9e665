"""Point-cloud error: Chamfer distance between the back-projected aligned prediction and the
back-projected GT (the 3-D view of seeds 001–002; Fan, Su & Guibas, CVPR 2017 for the distance).

Both clouds come from the protocol's valid pixels with the sample's intrinsics (``MetricBatch
.intrinsics``, GT image pixels): P(u, v) = z·((u − cx)/fx, (v − cy)/fy, 1), z the aligned,
clamped prediction or the GT (camera z, metres). With A the predicted and G the GT points,
- ``chamfer_acc``  = mean_{a ∈ A} min_{g ∈ G} ‖a − g‖ (accuracy, metres),
- ``chamfer_comp`` = mean_{g ∈ G} min_{a ∈ A} ‖g − a‖ (completeness, metres),
- ``chamfer``      = ½ (chamfer_acc + chamfer_comp) (Euclidean, not squared).
Exact nearest neighbours are quadratic, so each cloud is the valid pixels taken at evenly spaced
indices (row-major) up to ``params["chamfer_points"]`` points (default 8192); deterministic.
Images without intrinsics or valid pixels are skipped (datasets without intrinsics report nothing).
Averaged over images (per_image).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from depthbench.metrics.core import MetricFamily, register_metric
from depthbench.metrics.filters import back_project, intrinsics_tensor, to_tensors
from depthbench.types import Intrinsics

DEFAULT_POINTS = 8192
_CHUNK = 2048


def nearest_distance(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """For each of N×3 ``source`` points, the Euclidean distance to the nearest of M×3 ``target``."""
    out = []
    for start in range(0, source.shape[0], _CHUNK):
        out.append(torch.cdist(source[start : start + _CHUNK], target, compute_mode="donot_use_mm_for_euclid_dist").amin(1))
    return torch.cat(out)


def chamfer_stats(pred: Any, gt: Any, mask: Any, intrinsics: list[Intrinsics | None] | None,
                  max_points: int = DEFAULT_POINTS) -> np.ndarray:
    """B×3 numpy statistics (images, chamfer_acc, chamfer_comp) of depth maps in metres."""
    p, g, m = to_tensors(pred, gt, mask)
    batch = p.shape[0]
    out = np.zeros((batch, 3), dtype=np.float64)
    if intrinsics is None:
        return out
    k, _ = intrinsics_tensor(intrinsics, batch, p.device)
    for b in range(batch):
        if intrinsics[b] is None:
            continue
        idx = torch.nonzero(m[b].flatten()).flatten()
        if idx.numel() == 0:
            continue
        if idx.numel() > max_points:
            idx = idx[torch.linspace(0, idx.numel() - 1, max_points, device=idx.device).round().long()]
        clouds = back_project(torch.stack([p[b], g[b]]), k[b : b + 1].expand(2, 4)).flatten(2)[:, :, idx]
        a, t = clouds[0].T.double(), clouds[1].T.double()
        out[b] = (1.0, float(nearest_distance(a, t).mean()), float(nearest_distance(t, a).mean()))
    return out


def chamfer_finalize(s: Any) -> dict[str, float]:
    if s[0] <= 0:
        return {"chamfer": float("nan"), "chamfer_acc": float("nan"), "chamfer_comp": float("nan")}
    acc, comp = s[1] / s[0], s[2] / s[0]
    return {"chamfer": float(0.5 * (acc + comp)), "chamfer_acc": float(acc), "chamfer_comp": float(comp)}


CHAMFER = register_metric(MetricFamily(
    name="chamfer", outputs=("chamfer", "chamfer_acc", "chamfer_comp"),
    higher_is_better={"chamfer": False, "chamfer_acc": False, "chamfer_comp": False},
    stat_names=("images", "chamfer_acc", "chamfer_comp"),
    stats=lambda batch: chamfer_stats(batch.pred, batch.gt, batch.mask, batch.intrinsics,
                                      int(batch.params.get("chamfer_points", DEFAULT_POINTS))),
    finalize=chamfer_finalize, averaging="per_image",
    description="Chamfer distance (m) of back-projected aligned prediction vs GT (needs intrinsics)",
))
