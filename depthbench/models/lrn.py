"""Light-Weight RefineNet depth models of seed 004 (Romanov et al., "Towards general purpose, geometry
preserving single-view depth estimation", Sec. 4 and Table 3).

Decoder: Light-Weight RefineNet (Nekrasov, Shen & Reid 2018, "Light-Weight RefineNet for Real-Time
Semantic Segmentation") with seed 004's two changes:
1. fusion keeps each level's channel count C_i (the original maps every level to 256 channels);
2. chained residual pooling (CRP) averages its N + 1 terms instead of summing them.

For encoder features f_0 … f_4 at strides 2, 4, 8, 16, 32 with channels C_0 … C_4 (timm
``features_only``), from the deepest level up:

    x_4 = CRP_4(relu(P_4 f_4))
    x_i = CRP_i(relu(P_i f_i + up(A_i x_{i+1})))          i = 3 … 0
    CRP(x) = (x + Σ_{k=1..N} z_k) / (N + 1),   z_0 = x,  z_k = Conv1×1(MaxPool5×5,s1(z_{k−1})),  N = 4
    log d = up×2(Conv3×3(C_0 → 1)(x_0))

P_i: 1×1 conv C_i → C_i; A_i: 1×1 conv C_{i+1} → C_i; up: bilinear to f_i's size. The 3×3 head runs at
half resolution and its output is upsampled bilinearly ×2 to the input size.

Output: log depth. The models are trained with scale-invariant losses (``depthbench.losses``:
``scale-invariant-pairwise`` for UTS data, the UTS/UTSS mixture), so exp(output) is depth up to an
unknown scale: ``output_kind`` is UTS and ``output_to_depth`` is exp. Table 3 of seed 004 reports the
models at 384×384 input; the networks are fully convolutional (any size divisible by 32).
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from depthbench.errors import UsageError
from depthbench.models import register_model
from depthbench.models.base import ModelInfo, TorchDepthModel
from depthbench.types import DepthKind

PAPER = "romanov2019geometry"
CRP_STAGES = 4

# registered name → timm encoder name
ENCODERS: dict[str, str] = {
    "lrn-mobilenetv2": "mobilenetv2_100",
    "lrn-efficientnet-lite0": "efficientnet_lite0",
    "lrn-efficientnet-b0": "efficientnet_b0",
    "lrn-efficientnet-b1": "efficientnet_b1",
    "lrn-efficientnet-b2": "efficientnet_b2",
    "lrn-efficientnet-b3": "efficientnet_b3",
    "lrn-efficientnet-b4": "efficientnet_b4",
    "lrn-efficientnet-b5": "efficientnet_b5",
}

# Parameter counts from seed 004, Table 3.
PAPER_PARAMS: dict[str, float] = {
    "lrn-mobilenetv2": 2.4e6,
    "lrn-efficientnet-lite0": 3.6e6,
    "lrn-efficientnet-b0": 4.2e6,
    "lrn-efficientnet-b1": 6.7e6,
    "lrn-efficientnet-b2": 8.0e6,
    "lrn-efficientnet-b3": 11.0e6,
    "lrn-efficientnet-b4": 18.0e6,
    "lrn-efficientnet-b5": 29.0e6,
}


class ChainedResidualPooling(nn.Module):
    """CRP with averaging: (x + z_1 + … + z_N) / (N + 1), z_k = Conv1×1(MaxPool5×5(z_{k−1}))."""

    def __init__(self, channels: int, stages: int = CRP_STAGES) -> None:
        super().__init__()
        self.convs = nn.ModuleList(nn.Conv2d(channels, channels, 1, bias=False) for _ in range(stages))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        total = x
        z = x
        for conv in self.convs:
            z = conv(F.max_pool2d(z, kernel_size=5, stride=1, padding=2))
            total = total + z
        return total / (len(self.convs) + 1)


class LightWeightRefineDecoder(nn.Module):
    """Channel-preserving Light-Weight RefineNet decoder over features ordered shallow → deep."""

    def __init__(self, channels: list[int]) -> None:
        super().__init__()
        self.project = nn.ModuleList(nn.Conv2d(c, c, 1, bias=False) for c in channels)
        self.adapt = nn.ModuleList(nn.Conv2d(deep, c, 1, bias=False) for c, deep in pairwise(channels))
        self.crp = nn.ModuleList(ChainedResidualPooling(c) for c in channels)
        self.head = nn.Conv2d(channels[0], 1, 3, padding=1)

    def forward(self, features: list[torch.Tensor]) -> torch.Tensor:
        last = len(features) - 1
        x = self.crp[last](F.relu(self.project[last](features[last])))
        for i in range(last - 1, -1, -1):
            f = features[i]
            up = F.interpolate(self.adapt[i](x), size=f.shape[-2:], mode="bilinear", align_corners=False)
            x = self.crp[i](F.relu(self.project[i](f) + up))
        return self.head(x)


class LRNDepth(TorchDepthModel):
    """timm encoder + LRN decoder predicting log depth (depth up to scale after exp)."""

    def __init__(
        self,
        name: str,
        encoder: str,
        pretrained: bool = False,
        input_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        import timm

        try:
            self.encoder = timm.create_model(encoder, features_only=True, pretrained=pretrained)
        except RuntimeError as exc:  # timm raises RuntimeError for unknown names
            raise UsageError(f"{name}: timm cannot build encoder {encoder!r} ({exc})") from exc
        channels = list(self.encoder.feature_info.channels())
        reductions = list(self.encoder.feature_info.reduction())
        if reductions != [2, 4, 8, 16, 32]:
            raise UsageError(
                f"{name}: encoder {encoder!r} gives feature strides {reductions}, expected [2, 4, 8, 16, 32]"
            )
        self.decoder = LightWeightRefineDecoder(channels)
        cfg = getattr(self.encoder, "pretrained_cfg", None) or {}
        self.info = ModelInfo(
            name=name,
            output_kind=DepthKind.UTS,
            input_size=tuple(input_size) if input_size is not None else None,  # type: ignore[arg-type]
            size_divisor=32,
            mean=tuple(cfg.get("mean", (0.485, 0.456, 0.406))),  # type: ignore[arg-type]
            std=tuple(cfg.get("std", (0.229, 0.224, 0.225))),  # type: ignore[arg-type]
            paper=PAPER,
            extra={"raw_output": "log_depth", "encoder": encoder, "encoder_channels": channels},
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised RGB B×3×H×W (H, W multiples of 32) → log depth B×1×H×W."""
        half = self.decoder(self.encoder(x))
        return F.interpolate(half, size=x.shape[-2:], mode="bilinear", align_corners=False)

    def output_to_depth(self, raw: torch.Tensor) -> torch.Tensor:
        """exp(log depth): depth up to an unknown positive scale (UTS)."""
        return torch.exp(raw[:, 0] if raw.ndim == 4 else raw)


def _factory(name: str, encoder: str) -> Any:
    def build(**options: Any) -> LRNDepth:
        options.setdefault("encoder", encoder)
        return LRNDepth(name=name, **options)

    build.__name__ = name.replace("-", "_")
    build.__doc__ = f"Seed 004's LRN depth model on timm encoder {encoder!r} (Table 3: {PAPER_PARAMS[name] / 1e6:g} M parameters)."
    return build


for _name, _encoder in ENCODERS.items():
    register_model(_name)(_factory(_name, _encoder))
