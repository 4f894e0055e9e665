"""Log-space depth quantization for depth-as-classification (seed 003: Li, Klein, Yao, dilated
ResNet depth classification with soft-weighted-sum inference).

Depth in [d_min, d_max] is split into K bins uniform in log space:

    q     = (log d_max − log d_min) / (K − 1)                 (bin width in log depth)
    w_i   = log d_min + q·i,  i = 0 … K−1                     (bin centres in log depth)
    label = round((log d − log d_min) / q), clipped to [0, K−1]; invalid depth → IGNORE_INDEX (−1)

Inverse maps from per-pixel class probabilities p (K values summing to 1):

    soft-weighted sum:  d = exp(wᵀp)                          (seed 003, eq. "soft-weighted-sum")
    hard max:           d = exp(w_argmax p)

Every function accepts numpy arrays or torch tensors and returns the same kind. Probabilities and
logits carry the class axis at ``class_axis`` (default 1, i.e. B×K×H×W; use 0 for K×H×W).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch

from depthbench.errors import UsageError

IGNORE_INDEX = -1

ArrayT = TypeVar("ArrayT", np.ndarray, torch.Tensor)


@dataclass(frozen=True)
class LogBins:
    """K log-spaced depth bins between ``d_min`` and ``d_max`` (metres), centres included."""

    num_bins: int
    d_min: float
    d_max: float

    def __post_init__(self) -> None:
        if self.num_bins < 2:
            raise UsageError(f"num_bins={self.num_bins}: expected at least 2 bins")
        if not (0 < self.d_min < self.d_max) or not math.isfinite(self.d_max):
            raise UsageError(f"depth range d_min={self.d_min}, d_max={self.d_max}: expected 0 < d_min < d_max < inf")

    @property
    def q(self) -> float:
        """Bin width in log depth: (log d_max − log d_min)/(K − 1)."""
        return (math.log(self.d_max) - math.log(self.d_min)) / (self.num_bins - 1)

    def centres_log(self) -> np.ndarray:
        """w_i = log d_min + q·i, float64, shape (K,)."""
        return math.log(self.d_min) + self.q * np.arange(self.num_bins, dtype=np.float64)

    def centres_log_torch(self, device: torch.device | str | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
        return torch.as_tensor(self.centres_log(), device=device, dtype=dtype)


def depth_to_labels(depth: ArrayT, bins: LogBins, valid: ArrayT | None = None) -> ArrayT:
    """Class labels (int64) of ``depth``: round((log d − log d_min)/q) clipped to [0, K−1].

    Pixels that are non-finite, ≤ 0, or False in ``valid`` get ``IGNORE_INDEX`` (−1). Depths outside
    [d_min, d_max] are clipped to the end bins (the network still learns "nearest/farthest").
    """
    log_dmin, q, k = math.log(bins.d_min), bins.q, bins.num_bins
    if isinstance(depth, torch.Tensor):
        ok = torch.isfinite(depth) & (depth > 0)
        if valid is not None:
            ok &= torch.as_tensor(valid, device=depth.device, dtype=torch.bool)
        safe = torch.where(ok, depth, torch.ones_like(depth)).double()
        labels = torch.round((torch.log(safe) - log_dmin) / q).clamp_(0, k - 1).long()
        return torch.where(ok, labels, torch.full_like(labels, IGNORE_INDEX))
    arr = np.asarray(depth)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(arr) & (arr > 0)
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)
    safe = np.where(ok, arr, 1.0).astype(np.float64)
    labels = np.clip(np.rint((np.log(safe) - log_dmin) / q), 0, k - 1).astype(np.int64)
    return np.where(ok, labels, IGNORE_INDEX)


def labels_to_depth(labels: ArrayT, bins: LogBins) -> ArrayT:
    """Bin-centre depth exp(w_label) (float32); ``IGNORE_INDEX`` maps to 0 (invalid)."""
    log_dmin, q = math.log(bins.d_min), bins.q
    if isinstance(labels, torch.Tensor):
        depth = torch.exp(log_dmin + q * labels.double().clamp(min=0)).float()
        return torch.where(labels >= 0, depth, torch.zeros_like(depth))
    lab = np.asarray(labels)
    depth = np.exp(log_dmin + q * np.maximum(lab, 0).astype(np.float64)).astype(np.float32)
    return np.where(lab >= 0, depth, np.float32(0.0))


def _move_axis_last(x: ArrayT, axis: int) -> ArrayT:
    if isinstance(x, torch.Tensor):
        return torch.movedim(x, axis, -1)
    return np.moveaxis(x, axis, -1)


def soft_weighted_sum(probs: ArrayT, bins: LogBins, class_axis: int = 1) -> ArrayT:
    """Soft-weighted-sum inference (seed 003): d = exp(Σ_i w_i p_i) with w_i the log bin centres.

    ``probs`` must already be probabilities (use ``softmax`` of the logits first).
    """
    if probs.shape[class_axis] != bins.num_bins:
        raise UsageError(f"probs: class axis {class_axis} has {probs.shape[class_axis]} entries, expected {bins.num_bins}")
    if isinstance(probs, torch.Tensor):
        w = bins.centres_log_torch(device=probs.device, dtype=probs.dtype)
        return torch.exp(_move_axis_last(probs, class_axis) @ w)
    w64 = bins.centres_log()
    return np.exp(_move_axis_last(np.asarray(probs, dtype=np.float64), class_axis) @ w64).astype(np.float32)


def hard_max(scores: ArrayT, bins: LogBins, class_axis: int = 1) -> ArrayT:
    """Hard-max inference: d = exp(w_argmax), for probabilities or logits (argmax is the same)."""
    if scores.shape[class_axis] != bins.num_bins:
        raise UsageError(f"scores: class axis {class_axis} has {scores.shape[class_axis]} entries, expected {bins.num_bins}")
    if isinstance(scores, torch.Tensor):
        return labels_to_depth(scores.argmax(dim=class_axis), bins)
    return labels_to_depth(np.asarray(scores).argmax(axis=class_axis), bins)
