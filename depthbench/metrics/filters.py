"""Torch building blocks shared by the structure-quality metric families (ssim, edge_f1, normals,
boundary, planarity, chamfer): input conversion, separable valid-mode correlation, erosion.

Every family does its arithmetic in torch so that numpy inputs (wrapped with ``torch.from_numpy``,
no copy), CPU tensors and CUDA tensors share one code path. Filters are separable and applied as
shift-and-add over tensor slices ("valid" mode: no padding, the output shrinks by the kernel size
minus one), which on a contended 2-core CPU measured 2–3× faster than ``conv2d`` with 1-D kernels
and is equally good on CUDA; nothing in these functions synchronises with the host.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from depthbench.metrics.arrays import is_torch
from depthbench.types import Intrinsics


def to_tensors(pred: Any, gt: Any, mask: Any) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(pred, gt) as float32 B×H×W tensors and mask as bool B×H×W, on pred's device.

    numpy inputs are wrapped without a copy when already float32; H×W inputs get a batch axis.
    """
    out = []
    for a in (pred, gt, mask):
        t = a if is_torch(a) else torch.from_numpy(np.ascontiguousarray(a))
        if t.ndim == 2:
            t = t[None]
        if t.ndim != 3:
            raise ValueError(f"expected H×W or B×H×W input, got shape {tuple(t.shape)}")
        out.append(t)
    p, g, m = out
    if p.shape != g.shape or p.shape != m.shape:
        raise ValueError(f"pred, gt and mask must have the same shape, got {tuple(p.shape)}, {tuple(g.shape)}, {tuple(m.shape)}")
    device = p.device
    return p.to(device, torch.float32), g.to(device, torch.float32), m.to(device).bool()


def correlate_valid(x: torch.Tensor, taps_x: Sequence[float], taps_y: Sequence[float]) -> torch.Tensor:
    """Separable correlation over the last two axes, valid mode:
    y[i, j] = Σ_a Σ_b taps_y[a] · taps_x[b] · x[i + a, j + b], shape (H − ky + 1) × (W − kx + 1)."""
    h, w = x.shape[-2:]
    kx, ky = len(taps_x), len(taps_y)
    row = x[..., :, 0 : w - kx + 1] * taps_x[0]
    for k in range(1, kx):
        if taps_x[k] != 0.0:
            row.add_(x[..., :, k : w - kx + 1 + k], alpha=taps_x[k])
    out = row[..., 0 : h - ky + 1, :] * taps_y[0]
    for k in range(1, ky):
        if taps_y[k] != 0.0:
            out.add_(row[..., k : h - ky + 1 + k, :], alpha=taps_y[k])
    return out


CPU_BAND_ROWS = 64


def banded_sum(fn: Callable[..., torch.Tensor], tensors: Sequence[torch.Tensor], halo: int,
               band_rows: int | None = None, pass_row: bool = False) -> torch.Tensor:
    """Σ over row bands of ``fn(*(t[:, r : r + rows + halo] for t in tensors))`` (with ``r`` as a
    last argument when ``pass_row``, for functions that need absolute pixel rows).

    For a statistic that is a sum over valid-mode output rows (a window of ``halo + 1`` rows),
    evaluating it band by band gives the same sums while the intermediates of a band stay in the
    CPU cache (measured 2× faster for 11-tap filters at 480×640). On CUDA the whole image is one
    band (``band_rows`` default: ``CPU_BAND_ROWS`` on CPU, all rows elsewhere).
    """
    height = tensors[0].shape[-2]
    rows_out = height - halo
    if band_rows is None:
        band_rows = CPU_BAND_ROWS if tensors[0].device.type == "cpu" else rows_out
    total = None
    for start in range(0, max(rows_out, 1), band_rows):
        end = min(start + band_rows, rows_out) + halo
        args = [t[..., start:end, :] for t in tensors]
        part = fn(*args, start) if pass_row else fn(*args)
        total = part if total is None else total + part
    assert total is not None
    return total


def image_sums(x: torch.Tensor) -> torch.Tensor:
    """Per-image sums (B) of a B×… tensor as float64: bool counts exactly in int64, floats in their
    own precision within one band (torch's cascade summation), float64 across bands. Measured on
    CPU: summing with ``dtype=torch.float64`` is 3–4× slower than this."""
    return x.flatten(1).sum(1).to(torch.float64)


def gaussian_taps(sigma: float, radius: int) -> list[float]:
    """Normalised 1-D Gaussian exp(−k²/2σ²), k = −radius..radius (as scipy.ndimage/skimage)."""
    taps = [math.exp(-0.5 * (k / sigma) ** 2) for k in range(-radius, radius + 1)]
    total = sum(taps)
    return [t / total for t in taps]


def erode_valid(mask: torch.Tensor, size: int) -> torch.Tensor:
    """Valid-mode erosion: out[i, j] = all of mask[i : i + size, j : j + size]."""
    h, w = mask.shape[-2:]
    row = mask[..., :, 0 : w - size + 1].clone()
    for k in range(1, size):
        row &= mask[..., :, k : w - size + 1 + k]
    out = row[..., 0 : h - size + 1, :].clone()
    for k in range(1, size):
        out &= row[..., k : h - size + 1 + k, :]
    return out


def cross_valid(mask: torch.Tensor) -> torch.Tensor:
    """Valid-mode 4-neighbourhood test: pixel (i+1, j+1) and its 4 neighbours all valid."""
    c = mask[..., 1:-1, 1:-1]
    return c & mask[..., 1:-1, :-2] & mask[..., 1:-1, 2:] & mask[..., :-2, 1:-1] & mask[..., 2:, 1:-1]


def intrinsics_tensor(intrinsics: Sequence[Intrinsics | None] | None, batch: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(B×4 float64 tensor of fx, fy, cx, cy with NaN rows for missing, B bool tensor "present")."""
    rows = []
    present = []
    for b in range(batch):
        k = intrinsics[b] if intrinsics is not None and b < len(intrinsics) else None
        rows.append([k.fx, k.fy, k.cx, k.cy] if k is not None else [math.nan] * 4)
        present.append(k is not None)
    return (torch.tensor(rows, dtype=torch.float64, device=device),
            torch.tensor(present, dtype=torch.bool, device=device))


def back_project(depth: torch.Tensor, k: torch.Tensor, row0: int = 0) -> torch.Tensor:
    """Camera-frame points of B×H×W depth (camera z) with B×4 intrinsics (fx, fy, cx, cy):
    P(u, v) = z · ((u − cx)/fx, (v − cy)/fy, 1), pixel centres at integer (u, v); ``row0``: the
    image row of the first row of ``depth`` (for row bands). Returns B×3×H×W."""
    _, h, w = depth.shape
    u = torch.arange(w, device=depth.device, dtype=torch.float32)
    v = torch.arange(row0, row0 + h, device=depth.device, dtype=torch.float32)
    kf = k.to(torch.float32)
    a = (u[None, :] - kf[:, 2:3]) / kf[:, 0:1]  # B×W
    c = (v[None, :] - kf[:, 3:4]) / kf[:, 1:2]  # B×H
    return torch.stack([depth * a[:, None, :], depth * c[:, :, None], depth], dim=1)


def to_numpy_stats(stats: torch.Tensor) -> np.ndarray:
    """B×K float64 numpy statistics (the one host transfer of a family's stats call)."""
    return stats.to(torch.float64).cpu().numpy()
