"""Two honest baselines, so that numbers mean something out of the box.

- ``constant``: predicts one depth everywhere: the training split's median valid depth from the
  dataset manifest's ``stats.train_median_depth`` (or ``value=``). Metric output. Any model worse
  than this has learnt nothing about absolute scale.
- ``plane-prior``: a geometric prior with no learning: the camera looks horizontally over a floor
  plane at height h, so a pixel at row v below the horizon v0 sees depth z = h·f/(v − v0); rows
  at or above the horizon (walls, sky) get the depth of the farthest floor row. Output is depth up to
  scale (UTS; h, f and v0 as fractions of the image), aligned by the protocol (median). It captures
  the "lower is closer" regularity every learned model must beat.
"""

from __future__ import annotations

from typing import Any

import torch

from depthbench.catalog import DatasetManifest
from depthbench.errors import UsageError
from depthbench.models import register_model
from depthbench.models.base import ModelInfo
from depthbench.types import DepthKind, Prediction


@register_model("constant", aliases=("median-depth",))
class ConstantDepth:
    """Predicts ``value`` metres everywhere (default: the dataset's training median depth)."""

    def __init__(self, value: float | None = None) -> None:
        if value is not None and value <= 0:
            raise UsageError(f"constant model: value must be positive, got {value}")
        self.value = value
        self.fixed = value is not None  # a value given by the user is kept for every dataset
        self.info = ModelInfo(name="constant", output_kind=DepthKind.METRIC, paper="baseline")

    def fit_to_dataset(self, manifest: DatasetManifest) -> None:
        """Use ``manifest``'s training median (again for every dataset of a benchmark)."""
        if not self.fixed:
            median = manifest.stats.train_median_depth
            if median is None:
                raise UsageError(
                    f"constant model: dataset {manifest.name!r} has no stats.train_median_depth; give value=..."
                )
            self.value = float(median)

    def predict(self, images: torch.Tensor) -> Prediction:
        if self.value is None:
            raise UsageError("constant model: no value set (give value= or evaluate on a catalogued dataset)")
        b, _, h, w = images.shape
        return Prediction(depth=torch.full((b, h, w), self.value, device=images.device), kind=DepthKind.METRIC)


@register_model("plane-prior")
class PlanePrior:
    """Floor-plane depth prior (see module docstring); UTS output."""

    def __init__(self, horizon: float = 0.45, camera_height: float = 1.0, focal: float = 0.9, far: float = 8.0) -> None:
        self.horizon, self.camera_height, self.focal, self.far = horizon, camera_height, focal, far
        self.info = ModelInfo(name="plane-prior", output_kind=DepthKind.UTS, paper="baseline")

    def predict(self, images: torch.Tensor) -> Prediction:
        b, _, h, w = images.shape
        rows = torch.arange(h, device=images.device, dtype=torch.float32) + 0.5
        below = (rows - self.horizon * h) / (self.focal * h)
        depth = self.camera_height / below.clamp_min(self.camera_height / self.far)
        return Prediction(depth=depth.view(1, h, 1).expand(b, h, w).contiguous(), kind=DepthKind.UTS)
