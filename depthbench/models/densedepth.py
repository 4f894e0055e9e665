"""DenseDepth (seed 000: Alhashim & Wonka 2018, "High Quality Monocular Depth Estimation via Transfer
Learning", Sec. 3.1 and Table 5).

Encoder: torchvision DenseNet-169 (or -201), ImageNet weights when ``pretrained=True`` (torchvision's
own download; default False = random init). Decoder, for block-4 output with C channels
(1664 for DenseNet-169, 1920 for DenseNet-201):

    x = Conv1×1(C → C)(relu(norm5(block4)))                                          1/32
    4 × up-block: x = bilinear ×2 (x); x = concat(x, skip); x = LReLU(Conv3×3(x)); x = LReLU(Conv3×3(x))
        skips (equal size): pool3 1/16, pool2 1/8, pool1 1/4, conv1 1/2  (Keras DenseNet names; in
        torchvision: transition2, transition1, pool0, relu0); channels C/2, C/4, C/8, C/16
    y = Conv3×3(C/16 → 1)(x)                                                          1/2

LReLU has slope 0.2. For a 480×640 input the output is 240×320; DenseNet-169 gives ≈ 42.6 M parameters
(``PAPER_PARAMS``).

Output: the network predicts y = m / depth, m = ``max_depth`` (10 m for NYU, 80 m for KITTI). The
declared kind is METRIC; ``output_to_depth`` returns depth = clip(m / y, min_depth, max_depth), as the
reference implementation does at test time (its ``predict`` clips to [10 cm, 1000 cm] for NYU, hence
``min_depth = 0.1``). The paper's test-time extras are evaluator concerns, not the model's: the
averaging with the prediction of the horizontally flipped image is the protocol's flip TTA, and the ×2
upsampling to the ground truth is the protocol's resize-to-GT rule.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from depthbench.errors import UsageError
from depthbench.models import register_model
from depthbench.models.base import ModelInfo, TorchDepthModel
from depthbench.types import DepthKind

PAPER = "alhashim2018densedepth"
# Parameter counts stated by the paper (Table 5: 42.6 M for the DenseNet-169 model); none is stated for 201.
PAPER_PARAMS: dict[str, float] = {"densedepth-densenet169": 42.6e6}

_ENCODERS = {"densenet169": 1664, "densenet201": 1920}
_SKIP_CHANNELS = (256, 128, 64, 64)  # pool3, pool2, pool1, conv1: the same for DenseNet-169 and -201


class UpBlock(nn.Module):
    """Bilinear ×2 to the skip's size, concatenate, two 3×3 convs each followed by LeakyReLU(0.2)."""

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int) -> None:
        super().__init__()
        self.conv_a = nn.Conv2d(in_channels + skip_channels, out_channels, 3, padding=1)
        self.conv_b = nn.Conv2d(out_channels, out_channels, 3, padding=1)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=True)
        x = F.leaky_relu(self.conv_a(torch.cat([x, skip], dim=1)), 0.2)
        return F.leaky_relu(self.conv_b(x), 0.2)


class DenseDepth(TorchDepthModel):
    """DenseNet encoder + bilinear up-sampling decoder with skip connections; output m/depth at 1/2."""

    def __init__(
        self,
        encoder: str = "densenet169",
        pretrained: bool = False,
        max_depth: float = 10.0,
        min_depth: float = 0.1,
        input_size: tuple[int, int] | None = (480, 640),
        name: str | None = None,
    ) -> None:
        super().__init__()
        if encoder not in _ENCODERS:
            raise UsageError(f"densedepth: encoder {encoder!r} is not one of {sorted(_ENCODERS)}")
        if not 0 < min_depth < max_depth:
            raise UsageError(f"densedepth: need 0 < min_depth < max_depth, got {min_depth}, {max_depth}")
        import torchvision

        weights = "DEFAULT" if pretrained else None
        self.encoder = getattr(torchvision.models, encoder)(weights=weights).features
        channels = _ENCODERS[encoder]
        self.bottleneck = nn.Conv2d(channels, channels, 1)
        ups = []
        width = channels
        for skip in _SKIP_CHANNELS:
            ups.append(UpBlock(width, skip, width // 2))
            width //= 2
        self.up = nn.ModuleList(ups)
        self.head = nn.Conv2d(width, 1, 3, padding=1)
        self.max_depth = float(max_depth)
        self.min_depth = float(min_depth)
        self.info = ModelInfo(
            name=name or f"densedepth-{encoder}",
            output_kind=DepthKind.METRIC,
            input_size=tuple(input_size) if input_size is not None else None,  # type: ignore[arg-type]
            size_divisor=32,
            paper=PAPER,
            extra={
                "raw_output": "max_depth/depth",
                "max_depth": self.max_depth,
                "min_depth": self.min_depth,
                "output_stride": 2,
            },
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised RGB B×3×H×W (H, W multiples of 32) → raw m/depth B×1×H/2×W/2."""
        f = self.encoder
        conv1 = f.relu0(f.norm0(f.conv0(x)))
        pool1 = f.pool0(conv1)
        pool2 = f.transition1(f.denseblock1(pool1))
        pool3 = f.transition2(f.denseblock2(pool2))
        block4 = f.denseblock4(f.transition3(f.denseblock3(pool3)))
        y = self.bottleneck(F.relu(f.norm5(block4)))
        for up, skip in zip(self.up, (pool3, pool2, pool1, conv1)):
            y = up(y, skip)
        return self.head(y)

    def output_to_depth(self, raw: torch.Tensor) -> torch.Tensor:
        """depth = clip(max_depth / y, min_depth, max_depth), B×h×w metres (y ≤ 0 gives max_depth)."""
        y = raw[:, 0] if raw.ndim == 4 else raw
        return (self.max_depth / y.clamp_min(self.max_depth / 1e6)).clamp(self.min_depth, self.max_depth)


@register_model("densedepth-densenet169", aliases=("densedepth",))
def densedepth_densenet169(**options: Any) -> DenseDepth:
    """Seed 000's NYU/KITTI model (Table 5: 42.6 M parameters)."""
    return DenseDepth(encoder="densenet169", name="densedepth-densenet169", **options)


@register_model("densedepth-densenet201")
def densedepth_densenet201(**options: Any) -> DenseDepth:
    """Seed 000's decoder on a DenseNet-201 encoder (decoder widths 1920 → 960 … 120)."""
    return DenseDepth(encoder="densenet201", name="densedepth-densenet201", **options)
