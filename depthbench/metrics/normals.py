"""Surface-normal error ("mne" of DenseDepth, Alhashim & Wonka 2018 = seed 000, Table 3).

Normals from depth, central differences in valid mode (pixel (i, j) uses its 4 neighbours, all of
which must be valid):
- with intrinsics (``MetricBatch.intrinsics``, fx fy cx cy of the GT image): back-projection
  P(u, v) = z·((u − cx)/fx, (v − cy)/fy, 1) and n = (P(u+1) − P(u−1)) × (P(v+1) − P(v−1)), the
  geometric normal of the surface (invariant to a global scale of the depth);
- without intrinsics: image-space gradients n = (−∂z/∂u, −∂z/∂v, 1) with ∂z/∂u = (z(u+1) − z(u−1))/2
  in metres per pixel (the depth-map normal DenseDepth uses). Documented: this one depends on
  the depth scale, so it is only comparable across models under the same protocol.

Per pixel: cos = n̂_pred · n̂_gt, angle = atan2(|n_pred × n_gt|, n_pred · n_gt) in degrees (exact
near 0°, unlike acos). Outputs: ``normal_cos_dist`` = mean (1 − cos) ("mne"),
``normal_angle_mean`` (degrees), ``normal_within_11``/``_22``/``_30`` = fraction of pixels with
angle < 11.25°/22.5°/30°. All pixel-additive, so pooled or per-image as the protocol says.

CPU inputs (numpy, CPU tensors) take a fused numba kernel (``_cpu_kernels.normal_stats_numba``:
normals, dot/cross, a vectorisable float32 atan and the counts in one pass over row bands); CUDA
tensors the torch path below, with the same float32 formulas.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from depthbench.metrics import filters
from depthbench.metrics._cpu_kernels import cpu_arrays, normal_stats_numba
from depthbench.metrics.core import MetricFamily, register_metric
from depthbench.metrics.filters import (
    back_project,
    banded_sum,
    cross_valid,
    image_sums,
    intrinsics_tensor,
    to_numpy_stats,
    to_tensors,
)
from depthbench.types import Intrinsics

NORMAL_OUTPUTS = ("normal_cos_dist", "normal_angle_mean", "normal_within_11", "normal_within_22", "normal_within_30")
NORMAL_STATS = ("n", "cos_dist", "angle", "within_11", "within_22", "within_30")
ANGLE_THRESHOLDS = (11.25, 22.5, 30.0)


Normals = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def normals_image_space(depth: torch.Tensor) -> Normals:
    """Components (x, y, z), each …×(H−2)×(W−2), of the unnormalised normals (−∂z/∂u, −∂z/∂v, 1)."""
    nx = (depth[..., 1:-1, :-2] - depth[..., 1:-1, 2:]).mul_(0.5)
    ny = (depth[..., :-2, 1:-1] - depth[..., 2:, 1:-1]).mul_(0.5)
    return nx, ny, 1.0  # type: ignore[return-value]  # z component 1 everywhere: a scalar saves passes


def normals_back_projected(depth: torch.Tensor, k: torch.Tensor, row0: int = 0) -> Normals:
    """Components of the unnormalised normals P_u × P_v of B×H×W depth with B×4 intrinsics
    (``row0``: image row of the first row of ``depth``)."""
    x, y, z = back_project(depth, k, row0).unbind(1)
    du = [c[..., 1:-1, 2:] - c[..., 1:-1, :-2] for c in (x, y, z)]
    dv = [c[..., 2:, 1:-1] - c[..., :-2, 1:-1] for c in (x, y, z)]
    return _cross(du, dv)


def _cross(a: Any, b: Any) -> Normals:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def normal_maps(depth: torch.Tensor, intrinsics: list[Intrinsics | None] | None, row0: int = 0) -> Normals:
    """Normals of B×H×W depth: back-projected for images with intrinsics, image-space otherwise."""
    batch = depth.shape[0]
    if intrinsics is None or all(k is None for k in intrinsics):
        return normals_image_space(depth)
    k, present = intrinsics_tensor(intrinsics, batch, depth.device)
    if all(x is not None for x in intrinsics):
        return normals_back_projected(depth, k, row0)
    k = torch.where(present[:, None], k, torch.ones_like(k))
    chosen = present[:, None, None]
    geometric, image = normals_back_projected(depth, k, row0), normals_image_space(depth)
    return (torch.where(chosen, geometric[0], image[0]), torch.where(chosen, geometric[1], image[1]),
            torch.where(chosen, geometric[2], torch.ones_like(geometric[2])))


def normal_stats_tensor(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor,
                        intrinsics: list[Intrinsics | None] | None = None) -> torch.Tensor:
    """B×6 tensor (counted pixels, Σ(1 − cos), Σ angle°, counts under 11.25°, 22.5°, 30°)."""
    k_list = None if intrinsics is None else list(intrinsics)

    def band(p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, row0: int) -> torch.Tensor:
        return _normal_band(p, g, m, k_list, row0)

    return banded_sum(band, [pred, gt, mask], halo=2, pass_row=True)


def _normal_band(pred: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor,
                 intrinsics: list[Intrinsics | None] | None, row0: int) -> torch.Tensor:
    a, b = normal_maps(pred, intrinsics, row0), normal_maps(gt, intrinsics, row0)
    dot = a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
    c = _cross(a, b)
    sin = torch.sqrt(c[0] * c[0] + c[1] * c[1] + c[2] * c[2])
    norms = torch.sqrt((a[0] * a[0] + a[1] * a[1] + a[2] * a[2]) * (b[0] * b[0] + b[1] * b[1] + b[2] * b[2]))
    cos = dot / norms
    angle = torch.rad2deg(torch.atan2(sin, dot))
    valid = cross_valid(mask)
    weight = valid.to(cos.dtype)
    cols = [valid, (1.0 - cos).mul_(weight), angle.mul(weight)] + [(angle < t) & valid for t in ANGLE_THRESHOLDS]
    return torch.stack([image_sums(col) for col in cols], dim=1)


def normal_stats(pred: Any, gt: Any, mask: Any, intrinsics: list[Intrinsics | None] | None = None,
                 backend: str = "auto") -> np.ndarray:
    """B×6 numpy statistics (``NORMAL_STATS`` order) of depth maps in metres.

    ``backend``: ``"auto"`` (numba kernel for numpy and CPU-tensor inputs, torch for CUDA tensors),
    ``"torch"`` or ``"numba"`` (forced; numba needs CPU inputs).
    """
    arrays = None if backend == "torch" else cpu_arrays(pred, gt, mask)
    if arrays is not None:
        p, g, m = arrays
        if p.shape[1] < 3 or p.shape[2] < 3:
            return np.zeros((p.shape[0], len(NORMAL_STATS)), dtype=np.float64)
        k, present = intrinsics_tensor(intrinsics, p.shape[0], torch.device("cpu"))
        return normal_stats_numba(p, g, m, k.numpy(), present.numpy(), filters.CPU_BAND_ROWS)
    if backend == "numba":
        raise ValueError("backend='numba' needs numpy or CPU-tensor inputs")
    return to_numpy_stats(normal_stats_tensor(*to_tensors(pred, gt, mask), intrinsics))


def normal_finalize(s: Any) -> dict[str, float]:
    if s[0] <= 0:
        return {name: float("nan") for name in NORMAL_OUTPUTS}
    return {name: float(v / s[0]) for name, v in zip(NORMAL_OUTPUTS, s[1:])}


NORMALS = register_metric(MetricFamily(
    name="normals", outputs=NORMAL_OUTPUTS,
    higher_is_better={"normal_cos_dist": False, "normal_angle_mean": False, "normal_within_11": True,
                      "normal_within_22": True, "normal_within_30": True},
    stat_names=NORMAL_STATS, stats=lambda batch: normal_stats(batch.pred, batch.gt, batch.mask, batch.intrinsics),
    finalize=normal_finalize,
    description="Surface-normal error: mean cosine distance (mne), mean angle, % under 11.25/22.5/30°",
))
