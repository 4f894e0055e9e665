"""Ordinal relations: WHDR (weighted human disagreement rate; Chen et al., "Single-Image Depth
Perception in the Wild", NIPS 2016, with all weights 1 as in the DIW test set).

For each annotated pair (A, B) with relation rel = +1 when A is farther than B and −1 when closer,
and z the prediction as depth (disparity-like predictions are negated, so larger z is farther):
pair correct ⇔ (z_A − z_B) · rel > 0 (ties count as wrong); WHDR = 1 − correct / total.
The prediction must already be resized (bilinear) to the image size; the evaluator does that.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from depthbench.metrics.arrays import is_torch
from depthbench.metrics.core import MetricBatch, MetricFamily, register_metric
from depthbench.types import DepthKind


def ordinal_stats(pred_raw: Any, pairs: list[np.ndarray], kind: DepthKind) -> np.ndarray:
    """B×2 statistics (pairs, correct pairs) of B×H×W raw predictions of ``kind``."""
    pred = pred_raw.detach().float().cpu().numpy() if is_torch(pred_raw) else np.asarray(pred_raw, dtype=np.float64)
    if pred.ndim == 2:
        pred = pred[None]
    sign = -1.0 if DepthKind(kind).is_inverse else 1.0
    out = np.zeros((pred.shape[0], 2), dtype=np.float64)
    for b, image_pairs in enumerate(pairs):
        p = np.asarray(image_pairs, dtype=np.int64).reshape(-1, 5)
        if len(p) == 0:
            continue
        h, w = pred.shape[1:]
        if (p[:, [0, 2]] >= h).any() or (p[:, [1, 3]] >= w).any() or (p[:, :4] < 0).any():
            raise ValueError(f"ordinal pair outside the {h}×{w} prediction")
        z_a = sign * pred[b, p[:, 0], p[:, 1]]
        z_b = sign * pred[b, p[:, 2], p[:, 3]]
        correct = (z_a - z_b) * p[:, 4] > 0
        out[b] = (len(p), correct.sum())
    return out


def ordinal_finalize(s: np.ndarray) -> dict[str, float]:
    if s[0] <= 0:
        return {"whdr": float("nan")}
    return {"whdr": 1.0 - s[1] / s[0]}


WHDR = register_metric(
    MetricFamily(
        name="whdr",
        outputs=("whdr",),
        higher_is_better={"whdr": False},
        stat_names=("pairs", "correct"),
        stats=lambda batch: ordinal_stats(batch.pred_raw, batch.ordinal_pairs or [], batch.pred_kind),
        finalize=ordinal_finalize,
        target="ordinal",
        description="Weighted human disagreement rate on ordinal point pairs (DIW)",
    )
)


def whdr(pred: Any, pairs: np.ndarray | list[np.ndarray], kind: DepthKind | str = DepthKind.METRIC) -> float:
    """WHDR of one prediction (H×W) or a batch with per-image pair arrays; see module docstring."""
    pair_list = [pairs] if isinstance(pairs, np.ndarray) and np.asarray(pairs).ndim == 2 else list(pairs)
    stats = ordinal_stats(pred, pair_list, DepthKind(kind)).sum(axis=0)
    return ordinal_finalize(stats)["whdr"]
