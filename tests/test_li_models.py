"""Every Li et al. model: builds, runs forward/backward at its input size, declares its output kind,
and has the parameter count of its layer table (computed here from the table, independently)."""

from __future__ import annotations

import pytest
import torch
import torchvision

from depthbench.errors import UsageError
from depthbench.losses.li_set_loss import classification_loss
from depthbench.models import create_model, list_models
from depthbench.prep.quantize import LogBins
from depthbench.types import DepthKind

LI_MODELS = [
    "li2017-multiscale-vgg16",
    "li2017-multiscale-vgg16-grad",
    "li2017-multiscale-vgg16-fused",
    "li2017-twostream-vgg16",
    "li2017-twostream-vgg19",
    "li2017-twostream-resnet50",
    "li2018-dilated-resnet152",
]


def conv_params(k: int, cin: int, cout: int, bias: bool = True) -> int:
    return k * k * cin * cout + (cout if bias else 0)


def linear_params(fin: int, fout: int) -> int:
    return fin * fout + fout


def encoder_params(name: str) -> int:
    if name.startswith("vgg"):
        return sum(p.numel() for p in getattr(torchvision.models, name)().features.parameters())
    net = getattr(torchvision.models, name)()
    return sum(p.numel() for p in net.parameters()) - sum(p.numel() for p in net.fc.parameters())


def parsing_params(backbone: str, d: int) -> int:
    top = 512 * 7 * 9 if backbone.startswith("vgg") else 512 * 8 * 10
    extra = conv_params(1, 2048, 512) if backbone == "resnet50" else 0
    return encoder_params(backbone) + extra + linear_params(top, 4096) + linear_params(4096, 4125 * d)


def multiscale_params(d: int) -> int:
    n = parsing_params("vgg16", d) + conv_params(5, 256, 64) + conv_params(5, 512, 64)
    n += conv_params(9, 3, 96) + conv_params(5, 96 + d + 128, 64) + 6 * conv_params(5, 64, 64) + conv_params(5, 64, d)
    n += conv_params(9, 3, 64) + conv_params(5, 64 + d, 64) + 3 * conv_params(5, 64, 64) + conv_params(5, 64, d)
    return n


def stream_params(backbone: str, d: int) -> int:
    p3, p4 = (256, 512) if backbone.startswith("vgg") else (512, 1024)
    n = parsing_params(backbone, d) + conv_params(5, p3, 64) + conv_params(5, p4, 64)
    n += conv_params(9, 3, 96) + conv_params(5, 96 + 64, 64) + conv_params(5, 64, 64) + conv_params(5, 128, 64)
    n += conv_params(5, 64, 64) + conv_params(5, 64 + d, 64) + 2 * conv_params(5, 64, 64) + conv_params(5, 64, d)
    n += conv_params(9, 3, 64) + conv_params(5, 64 + d, 64) + 3 * conv_params(5, 64, 64) + conv_params(5, 64, d)
    return n


def twostream_params(backbone: str) -> int:
    combination = conv_params(5, 3, 64) + conv_params(5, 64, 64) + conv_params(5, 64, 1)
    return stream_params(backbone, 1) + stream_params(backbone, 2) + combination


def dilated_params(k: int = 200, width: int = 256) -> int:
    sides = sum(conv_params(1, c, width, bias=False) + 2 * width for c in (256, 512, 1024, 2048))
    head = conv_params(3, 4 * width, k, bias=False) + 2 * k + k * k * 8 * 8 + k
    return encoder_params("resnet152") + sides + head


EXPECTED_PARAMS = {
    "li2017-multiscale-vgg16": lambda: multiscale_params(1),
    "li2017-multiscale-vgg16-grad": lambda: multiscale_params(2),
    "li2017-multiscale-vgg16-fused": lambda: multiscale_params(1) + multiscale_params(2),
    "li2017-twostream-vgg16": lambda: twostream_params("vgg16"),
    "li2017-twostream-vgg19": lambda: twostream_params("vgg19"),
    "li2017-twostream-resnet50": lambda: twostream_params("resnet50"),
    "li2018-dilated-resnet152": dilated_params,
}

RAW_CHANNELS = {
    "li2017-multiscale-vgg16": 1,
    "li2017-multiscale-vgg16-grad": 2,
    "li2017-multiscale-vgg16-fused": 3,
    "li2017-twostream-vgg16": 4,
    "li2017-twostream-vgg19": 4,
    "li2017-twostream-resnet50": 4,
    "li2018-dilated-resnet152": 200,
}


def test_every_li_model_is_registered() -> None:
    registered = [n for n in list_models() if n.startswith("li20")]
    assert sorted(registered) == sorted(LI_MODELS)


@pytest.mark.slow
@pytest.mark.parametrize("name", LI_MODELS)
def test_model_forward_backward_shape_kind_params(name: str) -> None:
    torch.manual_seed(0)
    model = create_model(name)
    assert model.info.output_kind == DepthKind.METRIC
    assert model.num_parameters() == EXPECTED_PARAMS[name]()
    groups = model.param_groups(0.01)
    assert sum(p.numel() for g in groups for p in g["params"]) == model.num_parameters()
    assert len({id(p) for g in groups for p in g["params"]}) == len(list(model.parameters()))

    h, w = model.info.input_size
    out_h, out_w = model.info.extra["output_size"]
    model.train()
    raw = model(model.normalize(torch.rand(1, 3, h, w)))
    assert raw.shape == (1, RAW_CHANNELS[name], out_h, out_w)
    assert torch.isfinite(raw).all()
    raw.square().mean().backward()
    grads = [p.grad for p in model.parameters()]
    assert all(g is not None for g in grads)
    assert sum(float(g.abs().sum()) for g in grads) > 0
    with torch.no_grad():
        if name.endswith("-grad"):
            with pytest.raises(UsageError):
                model.output_to_depth(raw)
        else:
            depth = model.output_to_depth(raw)
            assert depth.shape == (1, out_h, out_w)
            assert torch.isfinite(depth).all() and (depth > 0).all()


def test_predict_resizes_and_declares_metric() -> None:
    model = create_model("li2017-multiscale-vgg16").eval()
    images = torch.rand(2, 3, 120, 160)
    with torch.no_grad():
        pred = model.predict(images)
        resized = torch.nn.functional.interpolate(images, size=(232, 310), mode="bilinear", align_corners=False)
        expected = torch.exp(model(model.normalize(resized))[:, 0])
    assert pred.kind == DepthKind.METRIC and tuple(pred.depth.shape) == (2, 111, 150)
    assert torch.allclose(pred.depth, expected, rtol=1e-5)
    grad_model = create_model("li2017-multiscale-vgg16-grad").eval()
    with pytest.raises(UsageError):
        grad_model.predict(images)
    with torch.no_grad():
        assert tuple(grad_model.predict_gradients(images).shape) == (2, 2, 111, 150)


def test_wrong_input_size_is_a_usage_error() -> None:
    model = create_model("li2017-multiscale-vgg16")
    with pytest.raises(UsageError):
        model(torch.rand(1, 3, 224, 224))
    with pytest.raises(UsageError):
        create_model("li2018-dilated-resnet152", inference="median")


def test_dilated_hard_and_soft_inference() -> None:
    torch.manual_seed(0)
    soft = create_model("li2018-dilated-resnet152", num_bins=8, d_min=1.0, d_max=8.0).eval()
    hard = create_model("li2018-dilated-resnet152", num_bins=8, d_min=1.0, d_max=8.0, inference="hard").eval()
    logits = torch.randn(1, 8, 4, 5)
    centres = torch.exp(torch.log(torch.tensor(1.0)) + torch.arange(8) * (torch.log(torch.tensor(8.0)) / 7))
    assert torch.allclose(hard.output_to_depth(logits), centres[logits.argmax(1)], rtol=1e-5)
    p = torch.softmax(logits, 1)
    assert torch.allclose(soft.output_to_depth(logits), torch.exp((p * centres.log().view(1, 8, 1, 1)).sum(1)), rtol=1e-5)


@pytest.mark.slow
def test_dilated_sgd_steps_lower_the_loss() -> None:
    torch.manual_seed(0)
    bins = LogBins(16, 0.5, 10.0)
    model = create_model("li2018-dilated-resnet152", num_bins=16, d_min=0.5, d_max=10.0).train()
    images = torch.rand(2, 3, 48, 64, generator=torch.Generator().manual_seed(1))
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 24), torch.linspace(0, 1, 32), indexing="ij")
    gt = (1.0 + 6.0 * yy + 2.0 * xx).expand(2, 24, 32).clone()
    # the encoder is frozen to keep CPU time low (a dilated ResNet-152 backward is slow on CPU);
    # its BN still uses batch statistics, and the fusion/classifier/deconvolution layers learn
    for p in [*model.stem.parameters(), *model.stages.parameters()]:
        p.requires_grad_(False)
    head = [g for g in model.param_groups(0.01) if g["name"] == "head"]
    optimiser = torch.optim.SGD(head, momentum=0.9)

    def loss_value() -> float:
        torch.manual_seed(123)  # the same dropout mask at every evaluation
        with torch.no_grad():
            return classification_loss(model(model.normalize(images)), gt, bins).item()

    before = loss_value()
    for _ in range(6):
        optimiser.zero_grad()
        classification_loss(model(model.normalize(images)), gt, bins).backward()
        optimiser.step()
    assert loss_value() < before * 0.9


def test_fused_pipeline_output_is_irls_fusion_of_its_streams() -> None:
    model = create_model("li2017-multiscale-vgg16-fused", fusion_iterations=5)
    raw = torch.zeros(1, 3, 12, 14, dtype=torch.float64)
    yy, xx = torch.meshgrid(torch.arange(12.0), torch.arange(14.0), indexing="ij")
    truth = 2.0 + 0.05 * xx + 0.02 * yy
    raw[0, 0] = torch.log(truth + 0.05 * torch.randn(12, 14, generator=torch.Generator().manual_seed(0)))
    raw[0, 1, :, 1:-1] = truth[:, 2:] - truth[:, :-2]
    raw[0, 2, 1:-1, :] = truth[2:, :] - truth[:-2, :]
    fused = model.output_to_depth(raw)
    assert fused.shape == (1, 12, 14) and fused.dtype == torch.float64
    assert (fused[0] - truth).abs().mean() < (raw[0, 0].exp() - truth).abs().mean() / 2
