"""Scale-invariant and shift-and-scale-invariant losses of seed 004 (Romanov et al., "Towards general
purpose, geometry preserving single-view depth estimation").

Scale-invariant pairwise L1 (seed 004, eq. 1), per image over its n valid pixels, with the log
residual r_i = log d_i − log d*_i (d predicted depth, d* ground-truth depth):

    L_SI = 1 / (n(n−1)/2) · Σ_{i<j} |(log d_i − log d_j) − (log d*_i − log d*_j)|
         = 1 / (n(n−1)/2) · Σ_{i<j} |r_i − r_j|

i.e. the mean over unordered pairs of distinct valid pixels (the same value as the mean over ordered
pairs i ≠ j). Multiplying d by any positive constant shifts every r_i equally and leaves L_SI
unchanged. The O(n²) double sum is computed in O(n log n) (seed 004, eq. 2): with r sorted increasingly,
r_(0) ≤ … ≤ r_(n−1), each r_(k) is the larger element of k pairs and the smaller of n−1−k pairs, so

    Σ_{i<j} |r_i − r_j| = Σ_k r_(k) · (2k − n + 1).

Shift-and-scale-invariant L1 (seed 004's loss for UTSS data, whose targets are inverse depth up to an
unknown scale and shift): both maps are normalised per image over the valid pixels,
D̂ = (D − μ(D)) / σ(D) (μ mean, σ population standard deviation), and L_SSI = mean |D̂_pred − D̂_gt|.
It is applied in inverse-depth space, where UTSS data is defined (``types.DepthKind.UTSS``).

Mixture (seed 004): L = I_UTS · L_SI + L_SSI per sample, I_UTS = 1 when the sample's target is depth up
to scale (UTS; both terms apply) and 0 when it is only inverse depth up to scale and shift (UTSS).
The batch loss is the mean over samples that have enough valid pixels.

Conventions: ``pred`` is the network's raw output, log depth (LRN models, ``depthbench.models.lrn``);
``target`` is positive depth (UTS) or inverse depth up to scale and shift (UTSS); ``mask`` marks the
valid pixels (pixels with a non-finite or, for depth targets, non-positive target are dropped too).
All tensors are B×H×W; every loss is differentiable in ``pred``.
"""

from __future__ import annotations

import torch

from depthbench.errors import UsageError
from depthbench.losses import register_loss


def _check(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None, name: str) -> torch.Tensor:
    if pred.ndim != 3 or pred.shape != target.shape:
        raise UsageError(
            f"{name}: pred and target must both be B×H×W of equal shape, got {tuple(pred.shape)} and {tuple(target.shape)}"
        )
    if mask is None:
        return torch.ones_like(target, dtype=torch.bool)
    if mask.shape != target.shape:
        raise UsageError(f"{name}: mask shape {tuple(mask.shape)} != target shape {tuple(target.shape)}")
    return mask.bool()


def _mean_over_samples(per_sample: torch.Tensor, usable: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Mean over usable samples; 0 (still attached to the graph) when none is usable."""
    if not bool(usable.any()):
        return like.sum() * 0.0
    return per_sample[usable].mean()


def pairwise_abs_diff_sum(values: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of ``values`` (B×N): Σ_{i<j, both valid} |v_i − v_j| in O(N log N), and the valid count n.

    Invalid entries are sent to +inf so that they sort last, then given weight 0 (eq. 2 above).
    """
    n = mask.sum(dim=1)
    placed = torch.where(mask, values, torch.full_like(values, float("inf")))
    ordered, _ = torch.sort(placed, dim=1)
    rank = torch.arange(values.shape[1], device=values.device, dtype=values.dtype).unsqueeze(0)
    weight = 2.0 * rank - (n.unsqueeze(1).to(values.dtype) - 1.0)
    in_range = rank < n.unsqueeze(1)
    terms = torch.where(in_range, ordered * weight, torch.zeros_like(ordered))
    return terms.sum(dim=1), n


def scale_invariant_pairwise_per_sample(
    pred_log_depth: torch.Tensor, target_depth: torch.Tensor, mask: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample L_SI (B,) and a bool (B,) saying which samples have at least two valid pixels."""
    valid = _check(pred_log_depth, target_depth, mask, "scale_invariant_pairwise_loss")
    valid = valid & torch.isfinite(target_depth) & (target_depth > 0) & torch.isfinite(pred_log_depth)
    safe_target = torch.where(valid, target_depth, torch.ones_like(target_depth))
    residual = pred_log_depth - torch.log(safe_target)
    flat_valid = valid.flatten(1)
    total, n = pairwise_abs_diff_sum(residual.flatten(1), flat_valid)
    pairs = (n * (n - 1) / 2).to(residual.dtype)
    usable = n >= 2
    per_sample = total / pairs.clamp_min(1.0)
    return per_sample, usable


@register_loss("scale-invariant-pairwise", aliases=("si-pairwise",))
def scale_invariant_pairwise_loss(
    pred_log_depth: torch.Tensor, target_depth: torch.Tensor, mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Seed 004 eq. 1: mean over samples of the mean over valid pixel pairs of
    |(log d_i − log d_j) − (log d*_i − log d*_j)|; computed by sorting (eq. 2), O(n log n) per image."""
    per_sample, usable = scale_invariant_pairwise_per_sample(pred_log_depth, target_depth, mask)
    return _mean_over_samples(per_sample, usable, pred_log_depth)


def _standardize(values: torch.Tensor, valid: torch.Tensor, eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(D − μ)/σ per row over valid entries (B×N); returns the standardised values and n."""
    weights = valid.to(values.dtype)
    n = weights.sum(dim=1, keepdim=True)
    filled = torch.where(valid, values, torch.zeros_like(values))
    mean = filled.sum(dim=1, keepdim=True) / n.clamp_min(1.0)
    centred = torch.where(valid, values - mean, torch.zeros_like(values))
    std = torch.sqrt((centred**2).sum(dim=1, keepdim=True) / n.clamp_min(1.0) + eps)
    return centred / std, n.squeeze(1)


def shift_scale_invariant_per_sample(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-8
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-sample L_SSI (B,) on maps already in the same space, and which samples are usable (n ≥ 2)."""
    valid = _check(pred, target, mask, "shift_scale_invariant_loss")
    valid = (valid & torch.isfinite(target) & torch.isfinite(pred)).flatten(1)
    p, n = _standardize(pred.flatten(1), valid, eps)
    t, _ = _standardize(torch.where(valid, target.flatten(1), torch.zeros_like(p)), valid, eps)
    diff = torch.where(valid, (p - t).abs(), torch.zeros_like(p))
    per_sample = diff.sum(dim=1) / n.clamp_min(1.0)
    return per_sample, n >= 2


@register_loss("shift-scale-invariant", aliases=("ssi",))
def shift_scale_invariant_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None, eps: float = 1e-8
) -> torch.Tensor:
    """Seed 004's L_SSI: mean |(P − μ_P)/σ_P − (G − μ_G)/σ_G| over valid pixels, per image, then
    averaged over the batch. ``pred`` and ``target`` must be in the same space (e.g. both inverse depth);
    ``eps`` is added to σ² so that a constant map does not divide by zero."""
    per_sample, usable = shift_scale_invariant_per_sample(pred, target, mask, eps)
    return _mean_over_samples(per_sample, usable, pred)


@register_loss("uts-utss-mixture", aliases=("si-ssi-mixture",))
def uts_utss_mixture_loss(
    pred_log_depth: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None,
    is_uts: torch.Tensor,
    eps: float = 1e-8,
) -> torch.Tensor:
    """Seed 004's mixed-data loss, per sample: I_UTS · L_SI(log depth) + L_SSI(inverse depth).

    ``is_uts`` (B,) bool: True where ``target`` is depth up to scale (then the SSI term compares
    exp(−pred) with 1/target), False where ``target`` is inverse depth up to scale and shift (only the
    SSI term, comparing exp(−pred) with target). Averaged over the samples with ≥ 2 valid pixels.
    """
    valid = _check(pred_log_depth, target, mask, "uts_utss_mixture_loss")
    uts = is_uts.to(device=target.device, dtype=torch.bool).view(-1)
    if uts.shape[0] != target.shape[0]:
        raise UsageError(
            f"uts_utss_mixture_loss: is_uts has {uts.shape[0]} entries for a batch of {target.shape[0]}"
        )
    uts_map = uts.view(-1, 1, 1)
    valid = valid & torch.isfinite(target) & (~uts_map | (target > 0))
    safe_depth = torch.where(valid & uts_map, target, torch.ones_like(target))
    target_disparity = torch.where(uts_map, 1.0 / safe_depth, target)
    ssi, usable = shift_scale_invariant_per_sample(torch.exp(-pred_log_depth), target_disparity, valid, eps)
    si, _ = scale_invariant_pairwise_per_sample(
        pred_log_depth, torch.where(uts_map, safe_depth, torch.ones_like(target)), valid & uts_map
    )
    per_sample = ssi + torch.where(uts, si, torch.zeros_like(si))
    return _mean_over_samples(per_sample, usable, pred_log_depth)
