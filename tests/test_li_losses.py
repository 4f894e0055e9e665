"""Set loss, combination loss and classification loss of Li et al. against independent oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from depthbench.losses.li_set_loss import (
    LI_MODEL_LOSSES,
    ImageTransform,
    LiClassificationLoss,
    LiCombinationLoss,
    LiSetLoss,
    classification_loss,
    clipped_square,
    make_image_set,
)
from depthbench.models.base import ModelInfo, TorchDepthModel
from depthbench.prep.gradient_fusion import depth_gradients
from depthbench.prep.quantize import LogBins
from depthbench.types import DepthKind


class PerPixelModel(TorchDepthModel):
    """Per-pixel network on per-image, per-channel standardised input: flip-equivariant and
    invariant to per-channel positive affine colour changes (so L_set = 0 under flip + colour)."""

    def __init__(self, out_channels: int = 1, column_bias: bool = False, gradients: bool = False) -> None:
        super().__init__()
        self.info = ModelInfo(name="per-pixel", output_kind=DepthKind.METRIC)
        torch.manual_seed(0)
        self.head = nn.Sequential(nn.Conv2d(3, 8, 1), nn.Tanh(), nn.Conv2d(8, 1, 1))
        self.column_bias = column_bias
        self.gradients = gradients

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(2, 3), keepdim=True)
        std = x.std(dim=(2, 3), keepdim=True)
        log_depth = self.head((x - mean) / std)
        if self.column_bias:  # breaks flip equivariance
            log_depth = log_depth + torch.linspace(0, 1, x.shape[-1]).view(1, 1, 1, -1)
        if self.gradients:
            return depth_gradients(torch.exp(log_depth), torch.ones_like(log_depth, dtype=torch.bool))[0]
        return log_depth


def _images(b: int = 2, h: int = 12, w: int = 16) -> torch.Tensor:
    # values in [0.3, 0.6]: the colour transform cannot clip them
    return 0.3 + 0.3 * torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(0))


def test_clipped_square_values_and_gradient() -> None:
    r = torch.tensor([-0.5, -0.1, -0.05, 0.0, 0.03, 0.1, 0.4], requires_grad=True)
    clipped_square(r, step=0).sum().backward()
    assert torch.allclose(r.grad, 2 * r.detach().clamp(-0.1, 0.1))
    inside = r.detach().abs() <= 0.1
    assert torch.allclose(clipped_square(r, 0).detach()[inside], r.detach()[inside] ** 2)
    r.grad = None
    clipped_square(r, step=20_000).sum().backward()
    assert torch.allclose(r.grad, 2 * r.detach())


def test_colour_transform_ranges_and_flip() -> None:
    images = _images()
    set_ = make_image_set(2, ("flip", "colour"), torch.Generator().manual_seed(1))
    assert [t.name for t in set_] == ["identity", "flip", "colour"]
    colour = set_[2]
    assert torch.all((colour.contrast >= 0.8) & (colour.contrast <= 1.2))
    assert torch.all((colour.brightness >= -0.1) & (colour.brightness <= 0.1))
    assert torch.all((colour.gamma >= 0.8) & (colour.gamma <= 1.2))
    out = colour.apply(images)
    mean = images.mean(dim=(1, 2, 3), keepdim=True)
    expected = ((images - mean) * colour.contrast.view(-1, 1, 1, 1) + mean + colour.brightness.view(-1, 1, 1, 1)) * colour.gamma.view(-1, 3, 1, 1)
    assert torch.allclose(out, expected.clamp(0, 1))
    assert torch.equal(set_[1].apply(images)[..., 0], images[..., -1])


def test_flip_realignment_of_gradients_negates_x() -> None:
    d = torch.rand(1, 1, 6, 9) + 1
    g_flipped, _ = depth_gradients(d.flip(-1))
    g, _ = depth_gradients(d)
    realigned = ImageTransform("flip").realign(g_flipped, grad_x_channels=[0])
    assert torch.allclose(realigned, g)


@pytest.mark.parametrize("gradients", [False, True])
def test_equivariant_model_has_zero_set_loss(gradients: bool) -> None:
    model = PerPixelModel(gradients=gradients)
    images = _images()
    gt = torch.rand(2, 12, 16) + 1
    loss = LiSetLoss("gradients" if gradients else "log_depth")
    parts = loss(model, images, gt, step=0, generator=torch.Generator().manual_seed(2))
    assert parts["set"].item() < 1e-10
    assert parts["single"].item() > 0


def test_non_equivariant_model_has_positive_set_loss() -> None:
    parts = LiSetLoss(transforms=("flip",))(PerPixelModel(column_bias=True), _images(), torch.rand(2, 12, 16) + 1, step=50_000)
    assert parts["set"].item() > 1e-3
    assert torch.isclose(parts["loss"], parts["single"] + parts["set"])


def test_single_loss_matches_numpy_oracle() -> None:
    model = PerPixelModel()
    images = _images()
    gt = torch.rand(2, 12, 16) + 0.5
    valid = torch.rand(2, 12, 16) > 0.3
    parts = LiSetLoss(transforms=())(model, images, gt, valid, step=30_000)
    pred = model(model.normalize(images))[:, 0].detach().numpy()
    diff = (pred - np.log(gt.numpy()))[valid.numpy()]
    assert np.isclose(parts["single"].item(), np.mean(diff**2), rtol=1e-5)
    assert parts["set"].item() == 0.0


@pytest.mark.parametrize("gradients", [False, True])
def test_set_loss_backpropagates(gradients: bool) -> None:
    model = PerPixelModel(gradients=gradients)
    loss = LiSetLoss("gradients" if gradients else "log_depth")
    parts = loss(model, _images(), torch.rand(2, 12, 16) + 1, step=0)
    parts["loss"].backward()
    assert model.head[0].weight.grad is not None and model.head[0].weight.grad.abs().sum() > 0


class ConsistentTwoStream(TorchDepthModel):
    """Output [D, D, ∇exp(D)]: the gradient stream agrees with the final depth exactly."""

    def __init__(self) -> None:
        super().__init__()
        self.info = ModelInfo(name="consistent", output_kind=DepthKind.METRIC)
        self.inner = PerPixelModel()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d = self.inner(x)
        g, _ = depth_gradients(torch.exp(d), torch.ones_like(d, dtype=torch.bool))
        return torch.cat([d, d, g], dim=1)


def test_combination_loss_zero_gradient_term_when_consistent() -> None:
    model = ConsistentTwoStream()
    parts = LiCombinationLoss()(model, _images(), torch.rand(2, 12, 16) + 1, step=0, generator=torch.Generator().manual_seed(0))
    assert parts["gradient_consistency"].item() < 1e-12
    assert torch.isclose(parts["loss"], parts["single"] + parts["set"] + parts["gradient_consistency"])


def test_classification_loss_matches_numpy_cross_entropy() -> None:
    bins = LogBins(12, 0.5, 10.0)
    rng = np.random.default_rng(0)
    logits = torch.from_numpy(rng.normal(size=(2, 12, 5, 6)))
    gt = torch.from_numpy(rng.uniform(0.5, 10.0, size=(2, 5, 6)))
    gt[0, 0, :3] = 0.0  # invalid
    loss = classification_loss(logits, gt, bins)
    w = np.log(0.5) + bins.q * np.arange(12)
    g = gt.numpy()
    valid = g > 0
    labels = np.abs(np.log(np.where(valid, g, 1))[..., None] - w).argmin(-1)
    lg = logits.numpy()
    logp = lg - np.log(np.exp(lg).sum(1, keepdims=True))
    nll = -np.take_along_axis(logp, labels[:, None], 1)[:, 0]
    assert np.isclose(loss.item(), nll[valid].mean(), rtol=1e-9)
    assert classification_loss(logits, torch.zeros(2, 5, 6), bins).item() == 0.0


def test_registration_table_builds_every_loss() -> None:
    built = {name: factory() for name, factory in LI_MODEL_LOSSES.items()}
    assert isinstance(built["li-set-gradients"], LiSetLoss) and built["li-set-gradients"].target == "gradients"
    assert isinstance(built["li-classification"], LiClassificationLoss)


def test_registered_losses_match_oracles() -> None:
    from depthbench.losses import get_loss, list_losses

    assert {"li-log-depth", "li-depth-gradient", "li-classification"} <= set(list_losses())
    rng = np.random.default_rng(4)
    pred = torch.from_numpy(rng.normal(size=(2, 6, 7)))
    target = torch.from_numpy(rng.uniform(0.5, 5.0, size=(2, 6, 7)))
    mask = torch.from_numpy(rng.random((2, 6, 7)) > 0.2)
    diff = (pred - torch.log(target))[mask]
    assert torch.isclose(get_loss("li-log-depth")(pred, target, mask), (diff**2).mean())
    clipped = torch.where(diff.abs() <= 0.1, diff**2, 0.2 * diff.abs() - 0.01).mean()
    assert torch.isclose(get_loss("li-log-depth")(pred, target, mask, step=10), clipped)
    grad_pred = torch.from_numpy(rng.normal(size=(2, 2, 6, 7)))
    t = target.numpy()
    m = mask.numpy()
    gx = t[:, :, 2:] - t[:, :, :-2]
    gy = t[:, 2:, :] - t[:, :-2, :]
    vx = m[:, :, 2:] & m[:, :, :-2]
    vy = m[:, 2:, :] & m[:, :-2, :]
    rx = (grad_pred[:, 0, :, 1:-1].numpy() - gx)[vx]
    ry = (grad_pred[:, 1, 1:-1, :].numpy() - gy)[vy]
    expected = (np.sum(rx**2) + np.sum(ry**2)) / (rx.size + ry.size)
    assert np.isclose(get_loss("li-depth-gradient")(grad_pred, target, mask).item(), expected)
    logits = torch.from_numpy(rng.normal(size=(2, 10, 6, 7)))
    bins = LogBins(10, 0.5, 10.0)
    assert torch.isclose(
        get_loss("li-classification")(logits, target, mask, num_bins=10), classification_loss(logits, target, bins, mask)
    )
