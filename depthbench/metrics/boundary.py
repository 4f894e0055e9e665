"""Depth-boundary errors in the style of iBims-1 (Koch et al., "Evaluation of CNN-based single-image
depth estimation methods", ECCV-W 2018, §4: DBE accuracy ε_acc and completeness ε_comp).

Edges of a depth map: normalise it per image over the valid mask to [0, 1] ((d − min)/(max − min)),
then Canny (1986): Gaussian smoothing σ = √2 (normalised convolution over the valid mask, radius 6),
3×3 Sobel gradient magnitude, non-maximum suppression along the gradient direction quantised to
0°/45°/90°/135°, hysteresis thresholds 0.1 / 0.2 on the magnitude (as iBims-1 calls
``skimage.feature.canny``), edges kept only where the 3×3 neighbourhood is valid.

GT edges: iBims-1 uses hand-annotated occlusion boundaries; no dataset here ships such annotations,
so GT edges are defined as the same Canny edges of the normalised GT depth (documented choice).

With D_gt, D_pred the Euclidean distance (pixels) to the nearest GT / predicted edge:
- ``dbe_acc``  = mean of D_gt over predicted edges with D_gt < 10 (10 when there is none);
- ``dbe_comp`` = mean over GT edges of min(D_pred, 10). iBims-1 leaves completeness uncapped; the
  10 px cap here keeps a missing edge from dominating and lets the distance transform be exact
  and local (separable, two passes of 21 shifts).
Images without a GT edge are skipped. Both in pixels, lower is better, averaged over images.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from depthbench.metrics.core import MetricFamily, register_metric
from depthbench.metrics.filters import correlate_valid, erode_valid, gaussian_taps, to_numpy_stats, to_tensors

CANNY_SIGMA = math.sqrt(2.0)
CANNY_LOW, CANNY_HIGH = 0.1, 0.2
DISTANCE_CAP = 10
_RADIUS = int(4.0 * CANNY_SIGMA + 0.5)  # scipy's default truncate = 4
_TAPS = gaussian_taps(CANNY_SIGMA, _RADIUS)


def normalise(depth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per image (d − min)/(max − min) over the mask; 0 outside it and for constant images."""
    inf = torch.tensor(float("inf"), device=depth.device)
    lo = torch.where(mask, depth, inf).flatten(1).amin(1)[:, None, None]
    hi = torch.where(mask, depth, -inf).flatten(1).amax(1)[:, None, None]
    span = torch.where(hi > lo, hi - lo, torch.ones_like(hi))
    return torch.where(mask, (depth - lo) / span, torch.zeros_like(depth))


def _same(x: torch.Tensor, taps_x: list[float], taps_y: list[float], mode: str) -> torch.Tensor:
    rx, ry = len(taps_x) // 2, len(taps_y) // 2
    padded = F.pad(x[:, None], (rx, rx, ry, ry), mode=mode)[:, 0] if mode != "constant" else F.pad(x, (rx, rx, ry, ry))
    return correlate_valid(padded, taps_x, taps_y)


def canny(image: torch.Tensor, mask: torch.Tensor, low: float = CANNY_LOW, high: float = CANNY_HIGH) -> torch.Tensor:
    """B×H×W bool Canny edges of B×H×W images in [0, 1] over ``mask`` (see module docstring)."""
    m = mask.to(image.dtype)
    num = _same(image * m, _TAPS, _TAPS, "constant")
    den = _same(m, _TAPS, _TAPS, "constant")
    smooth = num / den.clamp_min(1e-12)
    gx = _same(smooth, [-1.0, 0.0, 1.0], [1.0, 2.0, 1.0], "replicate")
    gy = _same(smooth, [1.0, 2.0, 1.0], [-1.0, 0.0, 1.0], "replicate")
    mag = torch.sqrt(gx * gx + gy * gy)
    # Direction bin of the gradient: 0 → horizontal neighbours, 1 → 45°, 2 → vertical, 3 → 135°.
    angle = torch.remainder(torch.atan2(gy, gx), math.pi)
    direction = torch.remainder(torch.round(angle / (math.pi / 4)), 4).to(torch.int64)
    p = F.pad(mag[:, None], (1, 1, 1, 1))[:, 0]
    h, w = mag.shape[-2:]
    shifted = {(dy, dx): p[:, 1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy in (-1, 0, 1) for dx in (-1, 0, 1)}
    # Image rows grow downwards: a gradient at +45° (gy > 0, gx > 0) points to (dy, dx) = (1, 1).
    pairs = [((0, 1), (0, -1)), ((1, 1), (-1, -1)), ((1, 0), (-1, 0)), ((1, -1), (-1, 1))]
    is_max = torch.zeros_like(mag, dtype=torch.bool)
    for k, (a, b) in enumerate(pairs):
        is_max |= (direction == k) & (mag >= shifted[a]) & (mag >= shifted[b])
    inner = F.pad(erode_valid(mask, 3), (1, 1, 1, 1))
    candidates = is_max & inner & (mag > 0)
    weak = candidates & (mag >= low)
    edges = candidates & (mag >= high)
    # Hysteresis: grow strong edges through 8-connected weak pixels until nothing changes
    # (checked every 16 steps: one host sync per 16 dilations).
    while True:
        before = edges
        for _ in range(16):
            grown = F.max_pool2d(edges[:, None].to(image.dtype), 3, stride=1, padding=1)[:, 0] > 0
            edges = weak & grown
        if bool((edges == before).all()):
            return edges


def capped_distance(edges: torch.Tensor, cap: int = DISTANCE_CAP) -> torch.Tensor:
    """Euclidean distance (pixels) to the nearest True pixel, exact up to ``cap``, else ``cap``.

    Separable: f(y, x) = min_{|dx| ≤ cap} dx² over edges in row y, then D² = min_{|dy| ≤ cap}
    (dy² + f(y + dy, x)). Every edge within distance ``cap`` has |dx|, |dy| ≤ cap, so the result
    is exact wherever it is ≤ cap.
    """
    h, w = edges.shape[-2:]
    big = float(2 * cap * cap + 1)
    padded = F.pad(edges, (cap, cap))
    row = torch.full(edges.shape, big, dtype=torch.float32, device=edges.device)
    for dx in range(-cap, cap + 1):
        row = torch.minimum(row, torch.where(padded[..., cap + dx : cap + dx + w], float(dx * dx), big))
    padded_row = F.pad(row, (0, 0, cap, cap), value=big)
    d2 = torch.full(edges.shape, big, dtype=torch.float32, device=edges.device)
    for dy in range(-cap, cap + 1):
        d2 = torch.minimum(d2, padded_row[..., cap + dy : cap + dy + h, :] + float(dy * dy))
    return torch.sqrt(d2).clamp_(max=float(cap))


def boundary_stats_tensor(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """B×3 tensor: (1 when the GT has an edge else 0, ε_acc, ε_comp)."""
    both = torch.cat([pred, gt])
    masks = torch.cat([mask, mask])
    edges = canny(normalise(both, masks), masks)
    b = pred.shape[0]
    e_pred, e_gt = edges[:b], edges[b:]
    dist = capped_distance(edges)
    d_pred, d_gt = dist[:b], dist[b:]
    near = e_pred & (d_gt < DISTANCE_CAP)
    n_near = near.flatten(1).sum(1, dtype=torch.float64)
    acc_sum = torch.where(near, d_gt, torch.zeros_like(d_gt)).flatten(1).sum(1, dtype=torch.float64)
    acc = torch.where(n_near > 0, acc_sum / n_near.clamp_min(1), torch.full_like(acc_sum, float(DISTANCE_CAP)))
    n_gt = e_gt.flatten(1).sum(1, dtype=torch.float64)
    comp_sum = torch.where(e_gt, d_pred, torch.zeros_like(d_pred)).flatten(1).sum(1, dtype=torch.float64)
    has_gt = n_gt > 0
    comp = torch.where(has_gt, comp_sum / n_gt.clamp_min(1), torch.zeros_like(comp_sum))
    return torch.stack([has_gt.to(torch.float64), torch.where(has_gt, acc, torch.zeros_like(acc)), comp], dim=1)


def boundary_stats(pred: Any, gt: Any, mask: Any) -> np.ndarray:
    """B×3 numpy statistics (``images``, ``dbe_acc``, ``dbe_comp``) of depth maps."""
    return to_numpy_stats(boundary_stats_tensor(*to_tensors(pred, gt, mask)))


def boundary_finalize(s: Any) -> dict[str, float]:
    if s[0] <= 0:
        return {"dbe_acc": float("nan"), "dbe_comp": float("nan")}
    return {"dbe_acc": float(s[1] / s[0]), "dbe_comp": float(s[2] / s[0])}


BOUNDARY = register_metric(MetricFamily(
    name="boundary", outputs=("dbe_acc", "dbe_comp"), higher_is_better={"dbe_acc": False, "dbe_comp": False},
    stat_names=("images", "dbe_acc", "dbe_comp"), stats=lambda batch: boundary_stats(batch.pred, batch.gt, batch.mask),
    finalize=boundary_finalize, averaging="per_image",
    description="iBims-1 depth-boundary errors (Canny on normalised depth; GT edges from GT depth; 10 px cap)",
))
