"""The model interface every evaluated or trained model satisfies.

A ``DepthModel`` takes a float RGB batch B×3×H×W in [0, 1] (on the model's device) and returns a
``Prediction`` whose ``kind`` it declares in ``info.output_kind``. Resizing to the network's input
size and normalisation happen inside the model (``TorchDepthModel.predict``); the evaluator then
resizes the prediction to the ground-truth resolution and aligns it as the protocol says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
import torch.nn.functional as F
from torch import nn

from depthbench.types import DepthKind, Prediction

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ModelInfo:
    """What the evaluator and trainer need to know about a model.

    ``input_size``: (H, W) the network runs at; None means "native resolution rounded to a
    multiple of ``size_divisor``". ``mean``/``std``: per-channel normalisation of [0, 1] RGB.
    ``output_kind``: the meaning of ``predict``'s values. ``paper``: citation key of the source.
    """

    name: str
    output_kind: DepthKind
    input_size: tuple[int, int] | None = None
    size_divisor: int = 32
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    paper: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class DepthModel(Protocol):
    """Anything with ``info`` and ``predict`` can be evaluated."""

    info: ModelInfo

    def predict(self, images: torch.Tensor) -> Prediction:
        """B×3×H×W float RGB in [0, 1] → Prediction (B×h×w, any resolution)."""
        ...


def network_input_size(info: ModelInfo, height: int, width: int) -> tuple[int, int]:
    """The (H, W) the network sees for an image of (height, width)."""
    if info.input_size is not None:
        return info.input_size
    d = info.size_divisor
    return (max(d, round(height / d) * d), max(d, round(width / d) * d))


class TorchDepthModel(nn.Module):
    """Base class of the reference models.

    Subclasses set ``self.info`` and implement ``forward(x)`` on normalised input (returns the raw
    network output used by the losses) and, when the raw output is not already in the declared
    kind's units, ``output_to_depth(raw)`` (e.g. ``exp`` of log depth, soft-weighted sum of bins).
    """

    info: ModelInfo

    def output_to_depth(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw network output B×1×h×w (or B×h×w) → B×h×w values of ``info.output_kind``."""
        return raw[:, 0] if raw.ndim == 4 else raw

    def normalize(self, images: torch.Tensor) -> torch.Tensor:
        mean = torch.tensor(self.info.mean, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
        std = torch.tensor(self.info.std, device=images.device, dtype=images.dtype).view(1, 3, 1, 1)
        return (images - mean) / std

    def predict(self, images: torch.Tensor) -> Prediction:
        h, w = images.shape[-2:]
        size = network_input_size(self.info, h, w)
        x = images if (h, w) == size else F.interpolate(images, size=size, mode="bilinear", align_corners=False)
        depth = self.output_to_depth(self(self.normalize(x)))
        return Prediction(depth=depth.float(), kind=self.info.output_kind)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())
