"""Multi-scale VGG-16 depth / depth-gradient networks of Li, Klein, Yao (seed 002), built on the
three-scale layout of Eigen & Fergus (ICCV 2015).

Input 232×310 RGB (ImageNet normalisation). Layer table (D = 1 for depth, 2 for x/y gradients;
"5×5/64" = 5×5 conv, 64 output channels, stride 1, same padding, ReLU):

    scale 1  1.1–1.5  VGG-16 conv blocks (pool3 = after 1.3, pool4 = after 1.4, pool5 = 512×7×9)
             1.6      FC 32256 → 4096, ReLU, dropout 0.5
             1.7      FC 4096 → 4125·D, reshaped to D×55×75
             1.3s     5×5/64 on pool3 (29×38), bilinearly up-sampled to 55×75
             1.4s     5×5/64 on pool4 (14×19), bilinearly up-sampled to 55×75
    scale 2  2.1      9×9/96 stride 2 on the image, ReLU, 2×2 max-pool (58×77), resized to 55×75
             2.2      5×5/64 on concat[2.1 (96), 1.7 (D), 1.3s (64), 1.4s (64)]
             2.3–2.8  5×5/64
             2.9      5×5/D, no ReLU                                             → D×55×75
    scale 3  3.1      9×9/64 stride 2 on the image, ReLU (116×155), resized to 111×150
             3.2      5×5/64 on concat[3.1 (64), 2.9 up-sampled to 111×150 (D)]
             3.3–3.5  5×5/64
             3.6      5×5/D, no ReLU                                             → D×111×150

Per-layer learning-rate multipliers (``param_groups(base_lr)``; ``base_lr = 0.01`` reproduces the
absolute rates of Eigen & Fergus' table, which seed 002 follows): 1.1–1.5 ×0.1, 1.6–1.7 ×10,
1.3s/1.4s ×1, 2.1 and 3.1 ×0.1, all other scale-2/3 layers ×1.

Raw output: log depth (D = 1; ``output_to_depth`` = exp, kind METRIC, metres) or linear-depth
gradients with the [−1, 0, 1] filters on the 111×150 grid (D = 2, ``depthbench.prep.gradient_fusion``);
the gradient network has no depth output on its own: fuse it with a depth map via
``fuse_depth_gradients``. ``li2017-multiscale-vgg16-fused`` is that full pipeline: the depth and
the gradient networks side by side, and at inference the depth exp(log depth) refined with the
predicted gradients by IRLS (``depthbench.prep.gradient_fusion``, ω = 10, ε = 1e-4), kind METRIC.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from depthbench.errors import UsageError
from depthbench.models import register_model
from depthbench.models._li_blocks import (
    COARSE_SIZE,
    FINE_SIZE,
    LI_INPUT_SIZE,
    ImageParsingBlock,
    check_input_size,
    conv,
    conv_stack,
    param_groups,
    resize,
)
from depthbench.models.base import ModelInfo, TorchDepthModel
from depthbench.prep.gradient_fusion import FUSION_EPS, FUSION_OMEGA, fuse_depth_gradients
from depthbench.types import DepthKind, Prediction

PAPER = "li2016multiscale"
WIDTH = 64


class Li2017MultiScale(TorchDepthModel):
    """Three-scale network (module docstring). ``out_channels``: 1 = log depth, 2 = depth gradients."""

    def __init__(self, name: str, out_channels: int = 1, pretrained: bool = False) -> None:
        super().__init__()
        if out_channels not in (1, 2):
            raise UsageError(f"out_channels={out_channels}: expected 1 (log depth) or 2 (x/y depth gradients)")
        self.out_channels = out_channels
        raw = "log_depth" if out_channels == 1 else "depth_gradients_xy"
        self.info = ModelInfo(
            name=name,
            output_kind=DepthKind.METRIC,
            input_size=LI_INPUT_SIZE,
            paper=PAPER,
            extra={"raw_output": raw, "output_size": FINE_SIZE},
        )
        d = out_channels
        self.scale1 = ImageParsingBlock(d, backbone="vgg16", pretrained=pretrained)
        self.skip3 = conv(self.scale1.pool3_channels, WIDTH, 5)
        self.skip4 = conv(self.scale1.pool4_channels, WIDTH, 5)
        self.conv2_1 = nn.Sequential(conv(3, 96, 9, stride=2), nn.MaxPool2d(2))
        self.scale2 = conv_stack([96 + d + 2 * WIDTH] + [WIDTH] * 7, WIDTH, d)  # 2.2–2.9
        self.conv3_1 = conv(3, WIDTH, 9, stride=2)
        self.scale3 = conv_stack([WIDTH + d] + [WIDTH] * 4, WIDTH, d)  # 3.2–3.6

    @staticmethod
    def _run(stack: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
        for layer in stack:
            x = layer(x)
        return x

    def forward_scales(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Outputs of the three scales: (D×55×75 coarse, D×55×75 scale 2, D×111×150 scale 3)."""
        check_input_size(x, self.info.name)
        pool3, pool4, coarse = self.scale1(x)
        s2_in = torch.cat(
            [
                resize(self.conv2_1(x), COARSE_SIZE),
                coarse,
                resize(self.skip3(pool3), COARSE_SIZE),
                resize(self.skip4(pool4), COARSE_SIZE),
            ],
            dim=1,
        )
        s2 = self._run(self.scale2, s2_in)
        s3_in = torch.cat([resize(self.conv3_1(x), FINE_SIZE), resize(s2, FINE_SIZE)], dim=1)
        return coarse, s2, self._run(self.scale3, s3_in)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised B×3×232×310 → B×D×111×150 (log depth, or x/y gradients)."""
        return self.forward_scales(x)[2]

    def output_to_depth(self, raw: torch.Tensor) -> torch.Tensor:
        """Log depth → metres: exp(raw[:, 0]). The gradient network has no depth output."""
        self._require_depth_output()
        return torch.exp(raw[:, 0])

    def _require_depth_output(self) -> None:
        if self.out_channels != 1:
            raise UsageError(
                f"{self.info.name} predicts depth gradients, not depth; use predict_gradients() and "
                "depthbench.prep.gradient_fusion.fuse_depth_gradients with a depth model "
                "(or the li2017-multiscale-vgg16-fused model)"
            )

    def predict_gradients(self, images: torch.Tensor) -> torch.Tensor:
        """B×3×H×W RGB in [0, 1] → B×2×111×150 [−1, 0, 1] depth gradients (gradient network only)."""
        if self.out_channels != 2:
            raise UsageError(f"{self.info.name} predicts log depth; predict_gradients needs the -grad model")
        x = resize(images, LI_INPUT_SIZE)
        return self(self.normalize(x))

    def predict(self, images: torch.Tensor) -> Prediction:
        self._require_depth_output()
        return super().predict(images)

    def param_groups(self, base_lr: float) -> list[dict]:
        """Optimizer param groups with the per-layer multipliers of the module docstring."""
        return param_groups(
            [
                ("scale1.conv", self.scale1.encoder_modules(), 0.1),
                ("scale1.fc", self.scale1.fc_modules(), 10.0),
                ("scale1.skips", [self.skip3, self.skip4], 1.0),
                ("first_convs", [self.conv2_1, self.conv3_1], 0.1),
                ("scale2_3", [self.scale2, self.scale3], 1.0),
            ],
            base_lr,
        )


class Li2017MultiScaleFused(TorchDepthModel):
    """Depth network + gradient network, fused by optimisation at inference (seed 002 pipeline).

    Raw output B×3×111×150: log depth, Gx, Gy (train the two networks with their own set losses on
    channels 0 and 1–2). ``output_to_depth`` runs the IRLS fusion per image on the CPU (not
    differentiable; for evaluation).
    """

    def __init__(
        self,
        name: str = "li2017-multiscale-vgg16-fused",
        pretrained: bool = False,
        fusion_iterations: int = 10,
        omega: float = FUSION_OMEGA,
        eps: float = FUSION_EPS,
    ) -> None:
        super().__init__()
        self.info = ModelInfo(
            name=name,
            output_kind=DepthKind.METRIC,
            input_size=LI_INPUT_SIZE,
            paper=PAPER,
            extra={"raw_output": "log_depth,grad_x,grad_y", "output_size": FINE_SIZE, "omega": omega, "eps": eps},
        )
        self.depth_net = Li2017MultiScale(f"{name}:depth", out_channels=1, pretrained=pretrained)
        self.gradient_net = Li2017MultiScale(f"{name}:grad", out_channels=2, pretrained=pretrained)
        self.fusion_iterations = fusion_iterations
        self.omega = omega
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised B×3×232×310 → B×3×111×150 (log depth, Gx, Gy)."""
        return torch.cat([self.depth_net(x), self.gradient_net(x)], dim=1)

    def output_to_depth(self, raw: torch.Tensor) -> torch.Tensor:
        """D* = IRLS fusion of exp(log depth) with (Gx, Gy), per image → B×111×150 metres."""
        arr = raw.detach().double().cpu().numpy()
        fused = [
            fuse_depth_gradients(np.exp(a[0]), a[1], a[2], self.omega, self.eps, self.fusion_iterations) for a in arr
        ]
        return torch.from_numpy(np.stack(fused)).to(device=raw.device, dtype=raw.dtype)

    def param_groups(self, base_lr: float) -> list[dict]:
        groups = []
        for prefix, net in (("depth", self.depth_net), ("grad", self.gradient_net)):
            groups += [{**g, "name": f"{prefix}.{g['name']}"} for g in net.param_groups(base_lr)]
        return groups


@register_model("li2017-multiscale-vgg16")
def li2017_multiscale_vgg16(pretrained: bool = False) -> Li2017MultiScale:
    """Seed 002 depth network: VGG-16 multi-scale, log depth at 111×150 (METRIC via exp)."""
    return Li2017MultiScale("li2017-multiscale-vgg16", out_channels=1, pretrained=pretrained)


@register_model("li2017-multiscale-vgg16-grad")
def li2017_multiscale_vgg16_grad(pretrained: bool = False) -> Li2017MultiScale:
    """Seed 002 gradient network: same layout with D = 2 (x/y linear-depth gradients)."""
    return Li2017MultiScale("li2017-multiscale-vgg16-grad", out_channels=2, pretrained=pretrained)


@register_model("li2017-multiscale-vgg16-fused")
def li2017_multiscale_vgg16_fused(
    pretrained: bool = False, fusion_iterations: int = 10, omega: float = FUSION_OMEGA, eps: float = FUSION_EPS
) -> Li2017MultiScaleFused:
    """Seed 002 full pipeline: depth and gradient networks, depth refined by IRLS fusion."""
    return Li2017MultiScaleFused("li2017-multiscale-vgg16-fused", pretrained, fusion_iterations, omega, eps)
