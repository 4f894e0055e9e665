"""The shipped demo model: registered, loads its fp16 checkpoint into fp32, declares metric depth."""

from __future__ import annotations

import json

import torch

from depthbench.models import create_model, list_models
from depthbench.models.demo import WEIGHTS_DIR
from depthbench.types import DepthKind


def test_demo_checkpoint_is_shipped_small_and_registered() -> None:
    weights = WEIGHTS_DIR / "model.safetensors"
    assert weights.is_file() and weights.stat().st_size < 8 * 2**20
    config = json.loads((WEIGHTS_DIR / "config.json").read_text())
    assert config["model"] == "lrn-mobilenetv2" and config["options"]["output_kind"] == "metric"
    assert "lrn-mobilenetv2-synthetic" in list_models()


def test_demo_model_predicts_metric_depth_in_fp32() -> None:
    model = create_model("lrn-mobilenetv2-synthetic")
    assert model.info.output_kind == DepthKind.METRIC and model.info.name == "lrn-mobilenetv2-synthetic"
    assert all(p.dtype == torch.float32 for p in model.parameters())
    # loading equals the stored fp16 tensors cast to fp32
    from safetensors.torch import load_file

    stored = load_file(str(WEIGHTS_DIR / "model.safetensors"))
    state = model.state_dict()
    for key, value in stored.items():
        torch.testing.assert_close(state[key], value.to(state[key].dtype))
    torch.manual_seed(0)
    pred = model.predict(torch.rand(2, 3, 240, 320))
    assert pred.kind == DepthKind.METRIC
    depth = torch.as_tensor(pred.depth)
    assert depth.shape == (2, 96, 128) and bool((depth > 0).all()) and bool(torch.isfinite(depth).all())
