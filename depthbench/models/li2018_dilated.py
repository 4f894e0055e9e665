"""Dilated ResNet-152 depth classification with hierarchical fusion and soft-weighted-sum inference
(seed 003: Li, Klein, Yao).

Layout (input 240×320 RGB, ImageNet normalisation):

    encoder   torchvision ResNet-152, the last two stages without stride and with dilation 2 and 4
              (``replace_stride_with_dilation=[False, True, True]``): side outputs
              L1 = layer1 (256 ch, 60×80), L2 = layer2 (512, 30×40), L3 = layer3 (1024, 30×40),
              L4 = layer4 (2048, 30×40)
    fusion    per side output a 1×1 conv to ``fusion_width`` channels + BN + ReLU; all resized
              (bilinear) to the common 30×40 grid and concatenated (4·fusion_width channels)
    head      dropout 0.5 → 3×3 conv to K bins + BN → ×4 ConvTranspose2d (kernel 8, stride 4,
              padding 2; initialised as bilinear up-sampling) → K×120×160 logits

BN follows every conv but the last (the deconvolution). L2–L4 share the 30×40 grid because of the
dilation, so L1 is brought to that grid; with the ×4 deconvolution this gives the 120×160 output
(half the input resolution).

Depth is classified into K log-spaced bins (``depthbench.prep.quantize``): 200 bins for NYU
(default ``d_min=0.5``, ``d_max=10`` m), 50 for KITTI (``num_bins=50, d_min=1, d_max=80``); these
ranges are depthbench's defaults, pass your own. Training loss: multinomial logistic loss
(cross entropy, ignore index −1). Inference ``"soft"``: d = exp(wᵀ softmax(logits)), ``"hard"``:
d = exp(w_argmax). Output kind METRIC (metres).
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

from depthbench.errors import UsageError
from depthbench.models import register_model
from depthbench.models._li_blocks import resize
from depthbench.models.base import ModelInfo, TorchDepthModel
from depthbench.prep.quantize import LogBins, hard_max, soft_weighted_sum
from depthbench.types import DepthKind

PAPER = "li2018dilated"
INPUT_SIZE = (240, 320)
SIDE_CHANNELS = (256, 512, 1024, 2048)


def bilinear_deconv_weight(channels: int, kernel: int, factor: int) -> torch.Tensor:
    """Per-channel bilinear up-sampling kernel (channels×channels×k×k, diagonal), the usual FCN
    initialisation of a transposed convolution by ``factor``."""
    centre = factor - 1 if kernel % 2 == 1 else factor - 0.5
    og = torch.arange(kernel, dtype=torch.float32)
    filt1d = 1 - torch.abs(og - centre) / factor
    filt = filt1d[:, None] * filt1d[None, :]
    weight = torch.zeros(channels, channels, kernel, kernel)
    weight[range(channels), range(channels)] = filt
    return weight


class Li2018Dilated(TorchDepthModel):
    """Module docstring. Options: ``num_bins``, ``d_min``, ``d_max``, ``inference``, ``pretrained``,
    ``fusion_width`` (channels per side output, default 256), ``dropout`` (default 0.5)."""

    def __init__(
        self,
        name: str = "li2018-dilated-resnet152",
        num_bins: int = 200,
        d_min: float = 0.5,
        d_max: float = 10.0,
        inference: str = "soft",
        pretrained: bool = False,
        fusion_width: int = 256,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if inference not in ("soft", "hard"):
            raise UsageError(f"inference={inference!r}: expected 'soft' or 'hard'")
        self.bins = LogBins(num_bins, d_min, d_max)
        self.inference = inference
        self.info = ModelInfo(
            name=name,
            output_kind=DepthKind.METRIC,
            input_size=INPUT_SIZE,
            paper=PAPER,
            extra={
                "raw_output": "bin_logits",
                "num_bins": num_bins,
                "d_min": d_min,
                "d_max": d_max,
                "inference": inference,
                "output_size": (INPUT_SIZE[0] // 2, INPUT_SIZE[1] // 2),
            },
        )
        weights = torchvision.models.ResNet152_Weights.IMAGENET1K_V2 if pretrained else None
        res = torchvision.models.resnet152(weights=weights, replace_stride_with_dilation=[False, True, True])
        self.stem = nn.Sequential(res.conv1, res.bn1, res.relu, res.maxpool)
        self.stages = nn.ModuleList([res.layer1, res.layer2, res.layer3, res.layer4])
        self.side = nn.ModuleList(
            nn.Sequential(nn.Conv2d(c, fusion_width, 1, bias=False), nn.BatchNorm2d(fusion_width), nn.ReLU(inplace=True))
            for c in SIDE_CHANNELS
        )
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.classifier = nn.Sequential(
            nn.Conv2d(4 * fusion_width, num_bins, 3, padding=1, bias=False), nn.BatchNorm2d(num_bins)
        )
        self.upsample = nn.ConvTranspose2d(num_bins, num_bins, kernel_size=8, stride=4, padding=2)
        with torch.no_grad():
            self.upsample.weight.copy_(bilinear_deconv_weight(num_bins, 8, 4))
            self.upsample.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised B×3×H×W (H, W multiples of 8) → B×K×(H/2)×(W/2) bin logits."""
        if x.shape[-2] % 8 or x.shape[-1] % 8:
            raise UsageError(f"{self.info.name}: input height and width must be multiples of 8, got {tuple(x.shape)}")
        h = self.stem(x)
        sides = []
        for stage, side in zip(self.stages, self.side):
            h = stage(h)
            sides.append(side(h))
        grid = tuple(sides[-1].shape[-2:])
        fused = torch.cat([resize(s, grid) for s in sides], dim=1)
        return self.upsample(self.classifier(self.dropout(fused)))

    def output_to_depth(self, raw: torch.Tensor) -> torch.Tensor:
        """Logits → metres by soft-weighted sum exp(wᵀ softmax) or hard max exp(w_argmax)."""
        if self.inference == "hard":
            return hard_max(raw, self.bins, class_axis=1)
        return soft_weighted_sum(torch.softmax(raw, dim=1), self.bins, class_axis=1)

    def param_groups(self, base_lr: float) -> list[dict]:
        """Encoder ×1, new layers (fusion, classifier, deconvolution) ×10: the usual fine-tuning split."""
        new = [self.side, self.classifier, self.upsample]
        return [
            {"name": "encoder", "params": [*self.stem.parameters(), *self.stages.parameters()], "lr": base_lr},
            {"name": "head", "params": [p for m in new for p in m.parameters()], "lr": base_lr * 10},
        ]


@register_model("li2018-dilated-resnet152")
def li2018_dilated_resnet152(
    num_bins: int = 200,
    d_min: float = 0.5,
    d_max: float = 10.0,
    inference: str = "soft",
    pretrained: bool = False,
    fusion_width: int = 256,
    dropout: float = 0.5,
) -> Li2018Dilated:
    """Seed 003 dilated ResNet-152 classification network (NYU defaults: 200 bins, 0.5–10 m)."""
    return Li2018Dilated(
        "li2018-dilated-resnet152", num_bins, d_min, d_max, inference, pretrained, fusion_width, dropout
    )
