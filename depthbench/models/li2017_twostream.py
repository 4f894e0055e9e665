"""Two-streamed network of Li, Klein, Yao, "A Two-Streamed Network for Estimating Fine-Scaled Depth
Maps from Single RGB Images", ICCV 2017 (seed 001).

Two streams of identical layout and separate weights: a depth stream (D = 1, log depth) and a
gradient stream (D = 2, x/y linear-depth gradients with the [−1, 0, 1] filters on the 111×150 grid).
Input 232×310 RGB. Per stream ("5×5/64" = 5×5 conv, 64 channels, same padding, ReLU):

    image parsing   encoder (VGG-16 / VGG-19 conv blocks, or ResNet-50) → pool5 → FC 4096 (ReLU,
                    dropout 0.5) → FC 4125·D → D×55×75                  (see ``_li_blocks``)
    feature fusion  f1  9×9/96 stride 2 on the image, ReLU, 2×2 max-pool (58×77), resized to 55×75
                    f2  5×5/64 on concat[f1, 5×5/64(pool3) resized]      (pool3 fused at conv 2)
                    f3  5×5/64
                    f4  5×5/64 on concat[f3, 5×5/64(pool4) resized]      (pool4 fused at conv 4)
                    f5  5×5/64
                    f6  5×5/64 on concat[f5, parsing output (D)]         (parsing fused at conv 6)
                    f7, f8  5×5/64;  f9  5×5/D (no ReLU)                  → D×55×75
    refinement      r1  9×9/64 on the image, ReLU, 2×2 max-pool (116×155), resized to 111×150
                    r2  5×5/64 on concat[r1, fusion output up-sampled (D)]
                    r3–r5  5×5/64;  r6  5×5/D (no ReLU)                   → D×111×150

Combination block (end-to-end fusion, depthbench's layout): c1 5×5/64 on concat[depth-stream log
depth, Gx, Gy], c2 5×5/64, c3 5×5/1 (no ReLU), added to the depth-stream log depth. It is trained
with L_comb = L_set(final) + mean ‖∇exp(final) − G_est‖² (``depthbench.losses.li_set_loss``).

Raw output B×4×111×150: channel 0 final log depth, 1 depth-stream log depth, 2–3 gradient-stream
(Gx, Gy). ``output_to_depth`` = exp(channel 0): kind METRIC (metres).
Learning-rate multipliers (``param_groups``): encoders ×0.1, FC layers ×10, everything else ×1.
"""

from __future__ import annotations

import torch
from torch import nn

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
from depthbench.types import DepthKind

PAPER = "li2017twostream"
WIDTH = 64


class Stream(nn.Module):
    """One stream: image parsing → feature fusion (55×75) → refinement (111×150), D channels."""

    def __init__(self, out_channels: int, backbone: str, pretrained: bool) -> None:
        super().__init__()
        d = out_channels
        self.parsing = ImageParsingBlock(d, backbone=backbone, pretrained=pretrained)
        self.skip3 = conv(self.parsing.pool3_channels, WIDTH, 5)
        self.skip4 = conv(self.parsing.pool4_channels, WIDTH, 5)
        self.f1 = nn.Sequential(conv(3, 96, 9, stride=2), nn.MaxPool2d(2))
        # f2 … f9; the inputs of f2, f4 and f6 carry the fused side inputs
        self.fusion = conv_stack([96 + WIDTH, WIDTH, 2 * WIDTH, WIDTH, WIDTH + d, WIDTH, WIDTH, WIDTH], WIDTH, d)
        self.r1 = nn.Sequential(conv(3, WIDTH, 9), nn.MaxPool2d(2))
        self.refinement = conv_stack([WIDTH + d] + [WIDTH] * 4, WIDTH, d)  # r2 … r6

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pool3, pool4, coarse = self.parsing(x)
        # fusion[0] is f2, fusion[2] is f4, fusion[4] is f6
        side = {0: resize(self.skip3(pool3), COARSE_SIZE), 2: resize(self.skip4(pool4), COARSE_SIZE), 4: coarse}
        h = resize(self.f1(x), COARSE_SIZE)
        for k, layer in enumerate(self.fusion):
            if k in side:
                h = torch.cat([h, side[k]], dim=1)
            h = layer(h)
        r = torch.cat([resize(self.r1(x), FINE_SIZE), resize(h, FINE_SIZE)], dim=1)
        for layer in self.refinement:
            r = layer(r)
        return r


class Li2017TwoStream(TorchDepthModel):
    """Depth stream + gradient stream + combination block (module docstring)."""

    def __init__(self, name: str, backbone: str = "vgg16", pretrained: bool = False) -> None:
        super().__init__()
        self.info = ModelInfo(
            name=name,
            output_kind=DepthKind.METRIC,
            input_size=LI_INPUT_SIZE,
            paper=PAPER,
            extra={
                "backbone": backbone,
                "raw_output": "final_log_depth,stream_log_depth,grad_x,grad_y",
                "output_size": FINE_SIZE,
            },
        )
        self.depth_stream = Stream(1, backbone, pretrained)
        self.gradient_stream = Stream(2, backbone, pretrained)
        self.combination = nn.Sequential(conv(3, WIDTH, 5), conv(WIDTH, WIDTH, 5), conv(WIDTH, 1, 5, relu=False))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised B×3×232×310 → B×4×111×150 (final log depth, stream log depth, Gx, Gy)."""
        check_input_size(x, self.info.name)
        log_depth = self.depth_stream(x)
        grads = self.gradient_stream(x)
        final = log_depth + self.combination(torch.cat([log_depth, grads], dim=1))
        return torch.cat([final, log_depth, grads], dim=1)

    def output_to_depth(self, raw: torch.Tensor) -> torch.Tensor:
        """exp of the final log depth (channel 0): metres."""
        return torch.exp(raw[:, 0])

    def param_groups(self, base_lr: float) -> list[dict]:
        streams = [self.depth_stream, self.gradient_stream]
        return param_groups(
            [
                ("encoders", [m for s in streams for m in s.parsing.encoder_modules()], 0.1),
                ("fc", [m for s in streams for m in s.parsing.fc_modules()], 10.0),
                ("rest", [*streams, self.combination], 1.0),
            ],
            base_lr,
        )


@register_model("li2017-twostream-vgg16")
def li2017_twostream_vgg16(pretrained: bool = False) -> Li2017TwoStream:
    """Seed 001 two-streamed network on VGG-16."""
    return Li2017TwoStream("li2017-twostream-vgg16", backbone="vgg16", pretrained=pretrained)


@register_model("li2017-twostream-vgg19")
def li2017_twostream_vgg19(pretrained: bool = False) -> Li2017TwoStream:
    """Seed 001 two-streamed network on VGG-19."""
    return Li2017TwoStream("li2017-twostream-vgg19", backbone="vgg19", pretrained=pretrained)


@register_model("li2017-twostream-resnet50")
def li2017_twostream_resnet50(pretrained: bool = False) -> Li2017TwoStream:
    """Seed 001 two-streamed network on ResNet-50."""
    return Li2017TwoStream("li2017-twostream-resnet50", backbone="resnet50", pretrained=pretrained)
