"""Building blocks shared by the Li, Klein, Yao models (seeds 001/002): the image parsing block
(a VGG/ResNet encoder + two fully connected layers giving a coarse 55×75×D map, as in Eigen & Fergus
ICCV 2015 scale 1), 5×5 convolution stacks, and per-layer learning-rate groups.

The fully connected head fixes the input size: 232×310 RGB (pool5 of VGG is 7×9 there).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from depthbench.errors import UsageError

LI_INPUT_SIZE = (232, 310)
COARSE_SIZE = (55, 75)  # 55·75 = 4125: the last FC layer is 4125·D wide
FINE_SIZE = (111, 150)
FC_HIDDEN = 4096


def conv(in_ch: int, out_ch: int, kernel: int, stride: int = 1, relu: bool = True) -> nn.Sequential:
    """Same-padded convolution, optionally followed by ReLU."""
    layers: list[nn.Module] = [nn.Conv2d(in_ch, out_ch, kernel, stride=stride, padding=kernel // 2)]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def resize(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bilinear resize (align_corners=False); identity when already ``size``."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=False)


def check_input_size(x: torch.Tensor, name: str) -> None:
    if tuple(x.shape[-2:]) != LI_INPUT_SIZE:
        raise UsageError(
            f"{name}: input must be B×3×{LI_INPUT_SIZE[0]}×{LI_INPUT_SIZE[1]} (fully connected head), "
            f"got {tuple(x.shape)}; use predict() to resize"
        )


class ImageParsingBlock(nn.Module):
    """Encoder + pool5 → FC 4096 (ReLU, dropout 0.5: layer 1.6) → FC 4125·D (layer 1.7) → D×55×75.

    ``backbone``: ``vgg16`` / ``vgg19`` (torchvision conv blocks; pool3/pool4 outputs exposed for the
    skip connections) or ``resnet50`` (layer2/layer3 outputs play pool3/pool4 — strides 8 and 16 —
    and a 1×1 conv reduces layer4's 2048 channels to 512 before the FC layer so that the FC stays
    the size of the VGG one). ``pretrained`` loads torchvision's ImageNet weights for the encoder.
    Returns (pool3, pool4, coarse).
    """

    def __init__(self, out_channels: int, backbone: str = "vgg16", pretrained: bool = False) -> None:
        super().__init__()
        self.backbone_name = backbone
        if backbone in ("vgg16", "vgg19"):
            weights = None
            if pretrained:
                weights = (
                    torchvision.models.VGG16_Weights.IMAGENET1K_V1
                    if backbone == "vgg16"
                    else torchvision.models.VGG19_Weights.IMAGENET1K_V1
                )
            vgg = getattr(torchvision.models, backbone)(weights=weights)
            pools = [i for i, m in enumerate(vgg.features) if isinstance(m, nn.MaxPool2d)]
            # blocks 1.1–1.3 end at pool3, 1.4 at pool4, 1.5 at pool5
            self.to_pool3 = vgg.features[: pools[2] + 1]
            self.to_pool4 = vgg.features[pools[2] + 1 : pools[3] + 1]
            self.to_pool5 = vgg.features[pools[3] + 1 : pools[4] + 1]
            self.pool3_channels, self.pool4_channels, top_channels = 256, 512, 512
            self.reduce: nn.Module = nn.Identity()
            top_hw = (LI_INPUT_SIZE[0] // 32, LI_INPUT_SIZE[1] // 32)
        elif backbone == "resnet50":
            weights = torchvision.models.ResNet50_Weights.IMAGENET1K_V2 if pretrained else None
            res = torchvision.models.resnet50(weights=weights)
            self.to_pool3 = nn.Sequential(res.conv1, res.bn1, res.relu, res.maxpool, res.layer1, res.layer2)
            self.to_pool4 = res.layer3
            self.to_pool5 = res.layer4
            self.pool3_channels, self.pool4_channels, top_channels = 512, 1024, 512
            self.reduce = nn.Sequential(nn.Conv2d(2048, top_channels, 1), nn.ReLU(inplace=True))
            top_hw = (-(-LI_INPUT_SIZE[0] // 32), -(-LI_INPUT_SIZE[1] // 32))  # ResNet rounds up
        else:
            raise UsageError(f"backbone {backbone!r}: expected one of vgg16, vgg19, resnet50")
        self.out_channels = out_channels
        self.fc6 = nn.Sequential(
            nn.Flatten(), nn.Linear(top_channels * top_hw[0] * top_hw[1], FC_HIDDEN), nn.ReLU(inplace=True), nn.Dropout(0.5)
        )
        self.fc7 = nn.Linear(FC_HIDDEN, COARSE_SIZE[0] * COARSE_SIZE[1] * out_channels)

    def encoder_modules(self) -> list[nn.Module]:
        return [self.to_pool3, self.to_pool4, self.to_pool5]

    def fc_modules(self) -> list[nn.Module]:
        return [self.reduce, self.fc6, self.fc7]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        pool3 = self.to_pool3(x)
        pool4 = self.to_pool4(pool3)
        top = self.reduce(self.to_pool5(pool4))
        coarse = self.fc7(self.fc6(top)).view(x.shape[0], self.out_channels, *COARSE_SIZE)
        return pool3, pool4, coarse


def conv_stack(in_channels: Sequence[int], width: int, out_channels: int) -> nn.ModuleList:
    """5×5 same-padded convs: layer k takes ``in_channels[k]`` (its own input incl. any concatenated
    side input) and gives ``width`` channels with ReLU, except the last, which gives
    ``out_channels`` with no activation."""
    layers = [conv(c, width, 5) for c in in_channels[:-1]]
    layers.append(conv(in_channels[-1], out_channels, 5, relu=False))
    return nn.ModuleList(layers)


def param_groups(groups: Iterable[tuple[str, Iterable[nn.Module], float]], base_lr: float) -> list[dict]:
    """Optimizer param groups ``{"name", "params", "lr": base_lr·multiplier}``; every parameter
    appears once (the first group naming it wins)."""
    seen: set[int] = set()
    out = []
    for name, modules, multiplier in groups:
        params = []
        for module in modules:
            for p in module.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    params.append(p)
        if params:
            out.append({"name": name, "params": params, "lr": base_lr * multiplier})
    return out
