"""Every model registered by densedepth.py and lrn.py: builds with random weights, runs forward and
backward on a small batch, declares the right output kind and shape, and matches the parameter count
stated in its paper. Plus a tiny training check (a few Adam steps lower the SI loss)."""

from __future__ import annotations

import pytest
import torch

from depthbench.losses.scale_invariant import scale_invariant_pairwise_loss
from depthbench.models import MODELS, create_model, densedepth, list_models, lrn
from depthbench.models.base import DepthModel
from depthbench.types import DepthKind, Prediction

# model name → (expected kind, output stride of forward, relative tolerance on the paper's count)
EXPECTED: dict[str, tuple[DepthKind, int, float]] = {
    "densedepth-densenet169": (DepthKind.METRIC, 2, 0.03),
    "densedepth-densenet201": (DepthKind.METRIC, 2, 0.03),
    **{name: (DepthKind.UTS, 1, 0.15) for name in lrn.ENCODERS},
}
PAPER_PARAMS = {**densedepth.PAPER_PARAMS, **lrn.PAPER_PARAMS}


def test_all_expected_names_are_registered() -> None:
    names = set(list_models())
    assert set(EXPECTED) <= names
    assert MODELS.canonical("densedepth") == "densedepth-densenet169"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_model_forward_backward_kind_and_params(name: str) -> None:
    torch.manual_seed(0)
    kind, stride, tolerance = EXPECTED[name]
    model = create_model(name)
    assert isinstance(model, DepthModel)
    assert model.info.output_kind is kind
    assert model.info.name == name

    x = torch.randn(2, 3, 64, 96)
    raw = model(x)
    assert raw.shape == (2, 1, 64 // stride, 96 // stride)
    raw.float().pow(2).mean().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    assert any(float(g.abs().sum()) > 0 for g in grads)

    if name in PAPER_PARAMS:
        count = model.num_parameters()
        assert abs(count / PAPER_PARAMS[name] - 1) <= tolerance, (
            f"{name}: {count} vs paper {PAPER_PARAMS[name]}"
        )


def test_lrn_predict_is_exp_of_log_depth_at_native_resolution() -> None:
    torch.manual_seed(0)
    model = create_model("lrn-mobilenetv2").eval()
    images = torch.rand(2, 3, 70, 90)
    with torch.no_grad():
        pred = model.predict(images)
        x = torch.nn.functional.interpolate(images, size=(64, 96), mode="bilinear", align_corners=False)
        raw = model(model.normalize(x))
    assert isinstance(pred, Prediction) and pred.kind is DepthKind.UTS
    assert pred.depth.shape == (2, 64, 96)
    assert torch.allclose(pred.depth, torch.exp(raw[:, 0]))


def test_densedepth_output_to_depth_inverts_and_clips() -> None:
    model = create_model("densedepth-densenet169", input_size=(64, 96))
    raw = torch.tensor([[[[1.0, 2.0, 10.0, 400.0, 0.5]]]])
    depth = model.output_to_depth(raw)
    assert torch.allclose(depth, torch.tensor([[[10.0, 5.0, 1.0, 0.1, 10.0]]]))
    model.eval()
    with torch.no_grad():
        pred = model.predict(torch.rand(1, 3, 50, 70))
    assert pred.kind is DepthKind.METRIC and pred.depth.shape == (1, 32, 48)
    assert float(pred.depth.min()) >= 0.1 and float(pred.depth.max()) <= 10.0


def test_densedepth_480x640_gives_240x320() -> None:
    model = create_model("densedepth-densenet169").eval()
    with torch.no_grad():
        assert model(torch.zeros(1, 3, 480, 640)).shape == (1, 1, 240, 320)


def test_bad_options_raise_usage_errors() -> None:
    from depthbench.errors import UsageError

    with pytest.raises(UsageError):
        create_model("densedepth-densenet169", min_depth=20.0)
    with pytest.raises(UsageError):
        create_model("lrn-mobilenetv2", encoder="no_such_timm_model_xyz")


def test_few_adam_steps_lower_the_si_loss() -> None:
    torch.manual_seed(0)
    model = create_model("lrn-mobilenetv2").train()
    images = torch.randn(2, 3, 64, 64)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    target = torch.stack([1.0 + 4.0 * yy, 2.0 + 3.0 * xx])  # smooth ramps: depth up to scale
    mask = torch.ones_like(target, dtype=torch.bool)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(15):
        optimizer.zero_grad()
        loss = scale_invariant_pairwise_loss(model(images)[:, 0], target, mask)
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.7 * losses[0], losses
