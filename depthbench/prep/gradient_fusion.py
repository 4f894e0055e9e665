"""Depth gradients with the [−1, 0, 1] filters, and depth/gradient fusion by optimisation
(seeds 001/002: Li, Klein, Yao — depth refined with estimated depth gradients).

Gradient convention (used by the ``-grad`` models, their targets and the fusion alike):

    ∇x D[i, j] = D[i, j+1] − D[i, j−1]        ∇y D[i, j] = D[i+1, j] − D[i−1, j]

defined on interior pixels only (the filter needs both neighbours); border rows/columns carry 0 and
are excluded by the returned validity mask. Depth is linear (metres), so gradients are in metres per
two pixels of the grid they were computed on.

Fusion (seed 002, "refinement by optimisation"):

    D* = argmin_D  Σ_p φ(D_p − D̂_p) + ω Σ_p [φ(∇x D_p − Gx_p) + φ(∇y D_p − Gy_p)]
    φ(x) = √(x² + ε),  ε = 1e-4,  ω = 10

solved by iteratively reweighted least squares: with residual weights u = 1/φ(r) from the previous
iterate, each step solves the sparse normal equations

    (U₀ + ω Kxᵀ Ux Kx + ω Kyᵀ Uy Ky) D = U₀ D̂ + ω Kxᵀ Ux Gx + ω Kyᵀ Uy Gy

(Kx, Ky the sparse difference operators) with scipy's direct sparse solver. Each IRLS step does not
increase the objective (majorise-minimise: φ(r) ≤ φ(r₀) + (r² − r₀²)/(2φ(r₀))).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
import torch.nn.functional as F

from depthbench.errors import UsageError

FUSION_EPS = 1e-4
FUSION_OMEGA = 10.0


def depth_gradients(depth: torch.Tensor, valid: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Depth gradients with filters [−1, 0, 1] (x along columns, y along rows).

    ``depth``: B×1×H×W or B×H×W. Returns ``(grad, grad_valid)``, both B×2×H×W (channel 0 = x,
    1 = y); a gradient is valid iff both neighbours are valid (``valid``, default finite and > 0
    depth) and it is not on the border. Invalid entries hold 0. Differentiable in ``depth``.
    """
    if depth.ndim == 3:
        depth = depth[:, None]
    if depth.ndim != 4 or depth.shape[1] != 1:
        raise UsageError(f"depth: expected B×1×H×W or B×H×W, got shape {tuple(depth.shape)}")
    if valid is None:
        valid = torch.isfinite(depth) & (depth > 0)
    else:
        valid = (valid[:, None] if valid.ndim == 3 else valid).to(torch.bool)
    d = torch.where(valid, depth, torch.zeros_like(depth))
    gx = torch.zeros_like(d)
    gy = torch.zeros_like(d)
    gx[..., :, 1:-1] = d[..., :, 2:] - d[..., :, :-2]
    gy[..., 1:-1, :] = d[..., 2:, :] - d[..., :-2, :]
    vx = torch.zeros_like(valid)
    vy = torch.zeros_like(valid)
    vx[..., :, 1:-1] = valid[..., :, 2:] & valid[..., :, :-2]
    vy[..., 1:-1, :] = valid[..., 2:, :] & valid[..., :-2, :]
    grad = torch.cat([gx * vx, gy * vy], dim=1)
    return grad, torch.cat([vx, vy], dim=1)


def resize_gradients(grad: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinearly resize B×2×H×W [−1, 0, 1] gradients to ``size`` and rescale them to the new grid
    (a gradient per two pixels scales with the pixel pitch: Gx·W/W', Gy·H/H' — halving the width
    doubles the depth change per pixel)."""
    h, w = grad.shape[-2:]
    out = F.interpolate(grad, size=size, mode="bilinear", align_corners=False)
    scale = torch.tensor([w / size[1], h / size[0]], device=grad.device, dtype=grad.dtype).view(1, 2, 1, 1)
    return out * scale


def _difference_operators(h: int, w: int) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Sparse Kx ((H·(W−2))×HW) and Ky (((H−2)·W)×HW) applying [−1, 0, 1] at interior pixels,
    rows ordered like the interior pixels in row-major order."""
    idx = np.arange(h * w).reshape(h, w)
    cx = idx[:, 1:-1].ravel()
    n_x = cx.size
    kx = sp.csr_matrix(
        (np.r_[np.ones(n_x), -np.ones(n_x)], (np.r_[np.arange(n_x), np.arange(n_x)], np.r_[cx + 1, cx - 1])),
        shape=(n_x, h * w),
    )
    cy = idx[1:-1, :].ravel()
    n_y = cy.size
    ky = sp.csr_matrix(
        (np.r_[np.ones(n_y), -np.ones(n_y)], (np.r_[np.arange(n_y), np.arange(n_y)], np.r_[cy + w, cy - w])),
        shape=(n_y, h * w),
    )
    return kx, ky


def _check_inputs(depth_est: np.ndarray, gx: np.ndarray, gy: np.ndarray) -> tuple[int, int]:
    if depth_est.ndim != 2:
        raise UsageError(f"depth_est: expected an H×W array, got shape {depth_est.shape}")
    h, w = depth_est.shape
    if h < 3 or w < 3:
        raise UsageError(f"depth_est: expected at least 3×3 pixels, got {h}×{w}")
    if gx.shape != (h, w) or gy.shape != (h, w):
        raise UsageError(f"gradients: expected gx and gy of shape {(h, w)}, got {gx.shape} and {gy.shape}")
    return h, w


def fusion_objective(
    depth: np.ndarray,
    depth_est: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    omega: float = FUSION_OMEGA,
    eps: float = FUSION_EPS,
    depth_valid: np.ndarray | None = None,
) -> float:
    """Σ φ(D − D̂) + ω Σ [φ(∇x D − Gx) + φ(∇y D − Gy)] over valid pixels / interior gradients."""
    _check_inputs(depth_est, gx, gy)
    d = np.asarray(depth, dtype=np.float64)
    valid = np.ones_like(d, dtype=bool) if depth_valid is None else np.asarray(depth_valid, dtype=bool)
    r0 = np.where(valid, d - depth_est, 0.0)
    rx = (d[:, 2:] - d[:, :-2]) - gx[:, 1:-1]
    ry = (d[2:, :] - d[:-2, :]) - gy[1:-1, :]
    data = float(np.sum(np.sqrt(r0**2 + eps) * valid))
    return data + omega * float(np.sum(np.sqrt(rx**2 + eps)) + np.sum(np.sqrt(ry**2 + eps)))


def fuse_depth_gradients(
    depth_est: np.ndarray,
    gx: np.ndarray,
    gy: np.ndarray,
    omega: float = FUSION_OMEGA,
    eps: float = FUSION_EPS,
    iterations: int = 10,
    depth_valid: np.ndarray | None = None,
    tol: float = 1e-6,
) -> np.ndarray:
    """Fuse an estimated depth map with estimated [−1, 0, 1] gradients (module docstring).

    ``depth_est``, ``gx``, ``gy``: H×W float arrays; ``depth_valid``: optional bool H×W mask of
    pixels whose depth estimate is trusted (others get no data term). Starts from D̂ and runs at most
    ``iterations`` IRLS steps, stopping early when the objective changes by less than ``tol``
    relative. Returns float32 H×W.
    """
    depth_est = np.asarray(depth_est, dtype=np.float64)
    gx = np.asarray(gx, dtype=np.float64)
    gy = np.asarray(gy, dtype=np.float64)
    h, w = _check_inputs(depth_est, gx, gy)
    valid = np.ones((h, w), dtype=bool) if depth_valid is None else np.asarray(depth_valid, dtype=bool)
    if not valid.any():
        raise UsageError("depth_valid: no valid pixel; the fusion needs at least one depth estimate")
    d_hat = np.where(valid, depth_est, 0.0).ravel()
    kx, ky = _difference_operators(h, w)
    gx_i = gx[:, 1:-1].ravel()
    gy_i = gy[1:-1, :].ravel()
    mask = valid.ravel().astype(np.float64)
    d = d_hat.copy() if valid.all() else np.where(valid.ravel(), d_hat, np.mean(d_hat[valid.ravel()]))
    prev = fusion_objective(d.reshape(h, w), depth_est, gx, gy, omega, eps, valid)
    for _ in range(iterations):
        u0 = mask / np.sqrt((d - d_hat) ** 2 + eps)
        ux = 1.0 / np.sqrt((kx @ d - gx_i) ** 2 + eps)
        uy = 1.0 / np.sqrt((ky @ d - gy_i) ** 2 + eps)
        lhs = sp.diags(u0) + omega * (kx.T @ sp.diags(ux) @ kx + ky.T @ sp.diags(uy) @ ky)
        rhs = u0 * d_hat + omega * (kx.T @ (ux * gx_i) + ky.T @ (uy * gy_i))
        d = spla.spsolve(lhs.tocsc(), rhs)
        cur = fusion_objective(d.reshape(h, w), depth_est, gx, gy, omega, eps, valid)
        if abs(prev - cur) <= tol * max(abs(prev), 1.0):
            break
        prev = cur
    return d.reshape(h, w).astype(np.float32)
