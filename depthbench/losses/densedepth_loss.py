"""DenseDepth's training loss (seed 000: Alhashim & Wonka 2018, "High Quality Monocular Depth Estimation
via Transfer Learning", Sec. 3.2).

The network predicts y = m / depth (m = ``max_depth``, 10 m for NYU); the target is y* = m / d* with
d* clipped to [``min_depth``, ``max_depth``]. Per batch:

    L = λ · L_depth + L_grad + L_SSIM,   λ = 0.1
    L_depth = mean_p |y_p − y*_p|                                           (over valid pixels)
    L_grad  = mean_p |g_x(y)_p − g_x(y*)_p| + |g_y(y)_p − g_y(y*)_p|        (forward differences over
                                                                             pairs of valid pixels)
    L_SSIM  = clip((1 − SSIM(y, y*)) / 2, 0, 1)

SSIM with its standard settings (Wang et al. 2004; as in tf.image.ssim, which the reference uses):
11×11 Gaussian window with σ = 1.5, K1 = 0.01, K2 = 0.03, "valid" windows only (no padding), and
dynamic range L = ``ssim_data_range`` (100 in the reference implementation: max/min depth = 1000 cm /
10 cm). With a mask, the SSIM map is averaged over windows whose centre pixel is valid.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from depthbench.errors import UsageError
from depthbench.losses import register_loss

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def gaussian_window(
    size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA, dtype: torch.dtype = torch.float32
) -> torch.Tensor:
    """Normalised separable Gaussian: 1-D weights exp(−x²/(2σ²)) / Σ, x = −(size−1)/2 … (size−1)/2."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    w = torch.exp(-(x**2) / (2 * sigma**2))
    return (w / w.sum()).to(dtype)


def ssim_map(x: torch.Tensor, y: torch.Tensor, data_range: float) -> torch.Tensor:
    """SSIM(x, y) per valid window centre for B×H×W inputs → B×(H−10)×(W−10).

    SSIM = ((2 μx μy + C1)(2 σxy + C2)) / ((μx² + μy² + C1)(σx² + σy² + C2)), C_k = (K_k L)²,
    with Gaussian-weighted local moments (population, not sample, covariance).
    """
    if x.shape[-2] < SSIM_WINDOW or x.shape[-1] < SSIM_WINDOW:
        raise UsageError(
            f"SSIM needs images of at least {SSIM_WINDOW}×{SSIM_WINDOW}, got {tuple(x.shape[-2:])}"
        )
    w = gaussian_window(dtype=x.dtype).to(x.device)
    kh = w.view(1, 1, -1, 1)
    kw = w.view(1, 1, 1, -1)

    def blur(t: torch.Tensor) -> torch.Tensor:
        return F.conv2d(F.conv2d(t.unsqueeze(1), kh), kw).squeeze(1)

    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    mu_x, mu_y = blur(x), blur(y)
    var_x = blur(x * x) - mu_x**2
    var_y = blur(y * y) - mu_y**2
    cov = blur(x * y) - mu_x * mu_y
    return ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    weights = mask.to(values.dtype)
    count = weights.sum()
    if float(count) == 0:
        return values.sum() * 0.0
    return (torch.where(mask, values, torch.zeros_like(values))).sum() / count


def depth_to_reciprocal_target(
    depth: torch.Tensor, min_depth: float = 0.4, max_depth: float = 10.0
) -> torch.Tensor:
    """y* = max_depth / clip(depth, min_depth, max_depth) (DenseDepth's "depth norm")."""
    return max_depth / depth.clamp(min_depth, max_depth)


@register_loss("densedepth")
def densedepth_loss(
    pred: torch.Tensor,
    target_depth: torch.Tensor,
    mask: torch.Tensor | None = None,
    *,
    min_depth: float = 0.4,
    max_depth: float = 10.0,
    depth_weight: float = 0.1,
    ssim_data_range: float = 100.0,
) -> torch.Tensor:
    """Seed 000's loss: 0.1·L1 + L1 of image gradients + clip((1 − SSIM)/2, 0, 1) on m/depth.

    ``pred`` B×H×W is the network's raw output (m/depth, resized to the target's size by the caller);
    ``target_depth`` B×H×W metric depth; ``mask`` B×H×W valid pixels (default: finite, positive depth).
    """
    if pred.ndim != 3 or pred.shape != target_depth.shape:
        raise UsageError(
            f"densedepth_loss: pred and target must both be B×H×W of equal shape, got {tuple(pred.shape)} and {tuple(target_depth.shape)}"
        )
    valid = torch.isfinite(target_depth) & (target_depth > 0)
    if mask is not None:
        if mask.shape != target_depth.shape:
            raise UsageError(
                f"densedepth_loss: mask shape {tuple(mask.shape)} != target shape {tuple(target_depth.shape)}"
            )
        valid = valid & mask.bool()
    safe = torch.where(valid, target_depth, torch.full_like(target_depth, max_depth))
    target = depth_to_reciprocal_target(safe, min_depth, max_depth)

    l_depth = _masked_mean((pred - target).abs(), valid)

    gx = (pred[..., :, 1:] - pred[..., :, :-1]) - (target[..., :, 1:] - target[..., :, :-1])
    gy = (pred[..., 1:, :] - pred[..., :-1, :]) - (target[..., 1:, :] - target[..., :-1, :])
    mx = valid[..., :, 1:] & valid[..., :, :-1]
    my = valid[..., 1:, :] & valid[..., :-1, :]
    l_grad = _masked_mean(gx.abs(), mx) + _masked_mean(gy.abs(), my)

    half = SSIM_WINDOW // 2
    centres = valid[..., half:-half, half:-half]
    ssim = _masked_mean(ssim_map(pred, target, ssim_data_range), centres)
    l_ssim = ((1.0 - ssim) / 2.0).clamp(0.0, 1.0)
    return depth_weight * l_depth + l_grad + l_ssim
