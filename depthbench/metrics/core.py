"""Metric families, their registry and streaming accumulators.

Every metric family has ONE arithmetic, split in two pure functions:

- ``stats(batch) -> B×K float64``: additive per-image statistics (sums and counts);
- ``finalize(S) -> {name: value}``: metric values from a K-vector of summed statistics.

Pooled averaging (over all valid pixels of all images: Eigen et al. 2014 code, DenseDepth, seeds
001–002) finalizes the sum of every image's statistics; per-image averaging (monodepth2, MiDaS,
Marigold) finalizes each image and takes the mean. The one-shot functions and the streaming
``MetricAccumulator`` call the same two functions, and accumulators merge by addition, so
distributed evaluation sums states across processes and gets the identical numbers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from depthbench.registry import Registry
from depthbench.types import DepthKind, Intrinsics


@dataclass
class MetricBatch:
    """What a metric family sees for a batch of B images.

    ``pred``: aligned prediction in metres (B×H×W, torch tensor or numpy array, same device as gt),
    already clamped to the protocol's caps; ``gt``: ground truth; ``mask``: the protocol's valid mask
    (GT valid ∧ caps ∧ crop). ``pred_raw``: the prediction before alignment, in its declared
    ``pred_kind`` (ordinal metrics compare raw values). ``images``: uint8 B×H×W×3 when available.
    ``ordinal_pairs``: per image an N×5 int array (ya, xa, yb, xb, rel) for ordinal targets.
    ``params``: protocol parameters (min_depth, max_depth, ...).
    ``plane_masks``: per image a P×H×W bool array of annotated planar regions (iBims-1 style), or
    None where the dataset has no plane annotation (planarity metrics then skip the image).
    """

    pred: Any
    gt: Any = None
    mask: Any = None
    pred_raw: Any = None
    pred_kind: DepthKind = DepthKind.METRIC
    images: Any = None
    intrinsics: list[Intrinsics | None] | None = None
    ordinal_pairs: list[np.ndarray] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    plane_masks: list[np.ndarray | None] | None = None


@dataclass(frozen=True)
class MetricFamily:
    """A named group of metrics sharing one set of per-image statistics."""

    name: str
    outputs: tuple[str, ...]
    higher_is_better: dict[str, bool]
    stat_names: tuple[str, ...]
    stats: Callable[[MetricBatch], np.ndarray]
    finalize: Callable[[np.ndarray], dict[str, float]]
    target: Literal["dense", "ordinal"] = "dense"
    # "either": pooled or per-image as the protocol says; "per_image": defined as a mean over images.
    averaging: Literal["either", "per_image"] = "either"
    description: str = ""


METRICS: Registry[MetricFamily] = Registry("metric")


def register_metric(family: MetricFamily, aliases: tuple[str, ...] = ()) -> MetricFamily:
    METRICS.register(family.name, family, aliases=aliases)
    return family


def finalize_many(family: MetricFamily, stats: np.ndarray) -> dict[str, np.ndarray]:
    """Finalize each row of an N×K stats array; returns name → length-N array (NaN when empty)."""
    rows = [family.finalize(s) for s in stats]
    return {name: np.array([r[name] for r in rows], dtype=np.float64) for name in family.outputs}


class MetricAccumulator:
    """Streaming state of one metric family: summed statistics and per-image metric sums.

    ``state`` is a flat float64 vector (pooled sums, per-image value sums, image count) that can be
    summed across processes (e.g. ``torch.distributed.all_reduce``) and loaded with ``from_state``.
    """

    def __init__(self, family: MetricFamily) -> None:
        self.family = family
        k, m = len(family.stat_names), len(family.outputs)
        self.pooled = np.zeros(k, dtype=np.float64)
        self.per_image_sum = np.zeros(m, dtype=np.float64)
        self.images = 0.0

    def update(self, stats: np.ndarray) -> dict[str, np.ndarray]:
        """Add a B×K stats array; returns the per-image metric values (for per-sample tables).

        Images with no valid pixel (first statistic, the count, is 0) are excluded from both means.
        """
        stats = np.atleast_2d(np.asarray(stats, dtype=np.float64))
        per_image = finalize_many(self.family, stats)
        counted = stats[:, 0] > 0
        self.pooled += stats[counted].sum(axis=0)
        values = np.stack([per_image[n] for n in self.family.outputs], axis=1)[counted]
        self.per_image_sum += values.sum(axis=0)
        self.images += float(counted.sum())
        return per_image

    def compute(self, averaging: Literal["pooled", "per_image"]) -> dict[str, float]:
        if self.images == 0:
            return {name: float("nan") for name in self.family.outputs}
        if averaging == "pooled" and self.family.averaging == "either":
            return {k: float(v) for k, v in self.family.finalize(self.pooled).items()}
        means = self.per_image_sum / self.images
        return {name: float(v) for name, v in zip(self.family.outputs, means)}

    @property
    def state(self) -> np.ndarray:
        return np.concatenate([self.pooled, self.per_image_sum, [self.images]])

    def load_state(self, state: np.ndarray) -> None:
        k, m = len(self.family.stat_names), len(self.family.outputs)
        state = np.asarray(state, dtype=np.float64)
        self.pooled, self.per_image_sum, self.images = state[:k].copy(), state[k : k + m].copy(), float(state[k + m])

    def merge(self, other: MetricAccumulator) -> None:
        self.load_state(self.state + other.state)
