"""L1 on log depth: a metric (scale-fixing) regression loss.

    L = mean over valid pixels of |log d − log d*|

with ``pred`` the network's raw log depth (LRN models) and ``target`` positive metric depth. Unlike
the scale-invariant losses of seed 004 it fixes the absolute scale, so a model trained with it (alone
or added to ``scale-invariant-pairwise``) predicts metres; Eigen et al. 2014 (eq. 4 with λ = 0) use
the squared version.
"""

from __future__ import annotations

import torch

from depthbench.errors import UsageError
from depthbench.losses import register_loss


@register_loss("log-l1")
def log_l1_loss(pred_log_depth: torch.Tensor, target_depth: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """mean_{valid p} |pred_p − log target_p| over the whole batch (0 when nothing is valid)."""
    if pred_log_depth.shape != target_depth.shape:
        raise UsageError(f"log_l1_loss: pred {tuple(pred_log_depth.shape)} and target {tuple(target_depth.shape)} differ")
    valid = torch.isfinite(target_depth) & (target_depth > 0)
    if mask is not None:
        valid = valid & mask.bool()
    safe = torch.where(valid, target_depth, torch.ones_like(target_depth))
    diff = torch.where(valid, (pred_log_depth - torch.log(safe)).abs(), torch.zeros_like(pred_log_depth))
    return diff.sum() / valid.sum().clamp_min(1)
