"""Deliberately broken models for the evaluator's error tests (loaded as module:callable)."""

from __future__ import annotations

import torch

from depthbench.models.base import ModelInfo
from depthbench.types import DepthKind, Prediction


class _Model:
    def __init__(self, kind: DepthKind, fn) -> None:  # type: ignore[no-untyped-def]
        self.info = ModelInfo(name="bad", output_kind=kind)
        self.fn = fn

    def predict(self, images: torch.Tensor) -> Prediction:
        b, _, h, w = images.shape
        return Prediction(depth=self.fn(b, h, w), kind=self.info.output_kind)


def nan_model() -> _Model:
    return _Model(DepthKind.METRIC, lambda b, h, w: torch.full((b, h, w), float("nan")))


def negative_model() -> _Model:
    return _Model(DepthKind.METRIC, lambda b, h, w: -torch.ones(b, h, w))


def wrong_batch_model() -> _Model:
    return _Model(DepthKind.METRIC, lambda b, h, w: torch.ones(b + 1, h, w))


def half_res_disparity_model() -> _Model:
    """A valid UTSS model at half resolution (exercises resize + disparity alignment)."""
    return _Model(DepthKind.UTSS, lambda b, h, w: torch.linspace(1, 2, h // 2).view(1, -1, 1).expand(b, h // 2, w // 2))


def not_a_model() -> object:
    return object()
