"""Adapters: transformers depth models from tiny random configs saved offline, and depthbench's
safetensors checkpoints (round trip gives identical predictions; damaged folders are refused)."""

from __future__ import annotations

import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported

from pathlib import Path

import pytest
import torch

from depthbench.errors import DataError, UsageError
from depthbench.models import create_model
from depthbench.models.adapters import CONFIG_FILE, WEIGHTS_FILE, load_checkpoint_model, save_checkpoint_model
from depthbench.types import DepthKind

transformers = pytest.importorskip("transformers")


def tiny_dpt(folder: Path) -> Path:
    config = transformers.DPTConfig(
        hidden_size=32, num_hidden_layers=4, backbone_out_indices=[0, 1, 2, 3], num_attention_heads=2,
        intermediate_size=37, image_size=32, patch_size=8, neck_hidden_sizes=[8, 16, 32, 32],
        fusion_hidden_size=16, head_hidden_size=8,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.DPTForDepthEstimation(config).save_pretrained(folder)
    transformers.DPTImageProcessor(size={"height": 32, "width": 32}).save_pretrained(folder)
    return folder


def tiny_glpn(folder: Path) -> Path:
    config = transformers.GLPNConfig(
        num_encoder_blocks=4, depths=[1, 1, 1, 1], sr_ratios=[8, 4, 2, 1], hidden_sizes=[8, 16, 32, 64],
        num_attention_heads=[1, 1, 2, 2], patch_sizes=[7, 3, 3, 3], strides=[4, 2, 2, 2], mlp_ratios=[2, 2, 2, 2],
        decoder_hidden_size=16, max_depth=10, head_in_index=-1,
    )  # fmt: skip
    torch.manual_seed(0)
    transformers.GLPNForDepthEstimation(config).save_pretrained(folder)
    transformers.GLPNImageProcessor().save_pretrained(folder)
    return folder


@pytest.mark.parametrize(("builder", "kind"), [(tiny_dpt, DepthKind.UTSS), (tiny_glpn, DepthKind.METRIC)])
def test_hf_model_from_local_folder(tmp_path: Path, builder, kind: DepthKind) -> None:
    folder = builder(tmp_path / "ckpt")
    model = create_model(f"hf:{folder}")
    assert model.info.output_kind is kind
    images = torch.rand(2, 3, 40, 50)
    pred = model.predict(images)
    assert pred.kind is kind
    assert torch.isfinite(pred.depth).all()

    # the adapter equals running processor + model by hand, at the network's resolution: the
    # evaluator (not the processor's bicubic post-processing) resizes to the GT, as the protocol says
    processor = transformers.AutoImageProcessor.from_pretrained(folder)
    net = transformers.AutoModelForDepthEstimation.from_pretrained(folder).eval()
    with torch.no_grad():
        inputs = processor(images=list(images), return_tensors="pt", do_rescale=False)
        raw = net(**inputs).predicted_depth
    raw = raw[:, 0] if raw.ndim == 4 else raw
    assert pred.depth.shape == raw.shape and torch.allclose(pred.depth, raw, atol=1e-6)

    overridden = create_model(f"hf:{folder}", kind="metric")
    assert overridden.info.output_kind is DepthKind.METRIC


def test_hf_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        create_model(f"hf:{tmp_path / 'missing'}")
    folder = tiny_dpt(tmp_path / "dpt")
    with pytest.raises(UsageError):
        create_model(f"hf:{folder}", kind="not-a-kind")


def test_hf_unknown_family_needs_kind() -> None:
    from depthbench.models.adapters import hf_output_kind

    class Config:
        model_type = "brand_new_depth"

    with pytest.raises(UsageError, match="kind="):
        hf_output_kind(Config(), "some/repo")

    class MetricDA:
        model_type = "depth_anything"
        depth_estimation_type = "metric"

    assert hf_output_kind(MetricDA(), "x") is DepthKind.METRIC


def test_checkpoint_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    torch.manual_seed(1)
    model = create_model("lrn-mobilenetv2").eval()
    with torch.no_grad():  # move BN statistics away from their defaults so that buffers matter
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    folder = save_checkpoint_model(model, "lrn-mobilenetv2", {}, tmp_path / "ck", extra_config={"epoch": 3})
    assert sorted(p.name for p in folder.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]  # no temp files left
    config = json.loads((folder / CONFIG_FILE).read_text())
    assert config["model"] == "lrn-mobilenetv2" and config["epoch"] == 3

    loaded = create_model(f"ckpt:{folder}")
    images = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        a = model.predict(images)
        b = loaded.predict(images)
    assert b.kind is a.kind
    assert torch.equal(a.depth, b.depth)

    fresh = create_model("lrn-mobilenetv2").eval()
    with torch.no_grad():
        assert not torch.equal(fresh.predict(images).depth, a.depth)


def test_checkpoint_options_are_restored(tmp_path: Path) -> None:
    model = create_model("densedepth-densenet169", max_depth=80.0, min_depth=1e-3, input_size=(64, 96))
    save_checkpoint_model(
        model,
        "densedepth-densenet169",
        {"max_depth": 80.0, "min_depth": 1e-3, "input_size": [64, 96]},
        tmp_path,
    )
    loaded = load_checkpoint_model(tmp_path)
    assert loaded.max_depth == 80.0 and loaded.info.input_size == (64, 96)


def test_checkpoint_damage_is_detected(tmp_path: Path) -> None:
    model = create_model("lrn-mobilenetv2")
    save_checkpoint_model(model, "lrn-mobilenetv2", {}, tmp_path / "a")
    save_checkpoint_model(
        create_model("lrn-efficientnet-lite0"), "lrn-efficientnet-lite0", {}, tmp_path / "b"
    )

    with pytest.raises(DataError):
        load_checkpoint_model(tmp_path / "missing")
    # weights from another checkpoint: checksum mismatch
    (tmp_path / "a" / WEIGHTS_FILE).write_bytes((tmp_path / "b" / WEIGHTS_FILE).read_bytes())
    with pytest.raises(DataError, match="weights_sha256"):
        load_checkpoint_model(tmp_path / "a")
    # weights of another architecture without checksum: strict load fails with a DataError
    config = json.loads((tmp_path / "a" / CONFIG_FILE).read_text())
    del config["weights_sha256"]
    (tmp_path / "a" / CONFIG_FILE).write_text(json.dumps(config))
    with pytest.raises(DataError, match="do not fit"):
        load_checkpoint_model(tmp_path / "a")
    (tmp_path / "a" / CONFIG_FILE).write_text(json.dumps({**config, "model": "no-such-model"}))
    with pytest.raises(DataError, match="not a registered"):
        load_checkpoint_model(tmp_path / "a")
    (tmp_path / "a" / CONFIG_FILE).write_text("{not json")
    with pytest.raises(DataError, match="not valid JSON"):
        load_checkpoint_model(tmp_path / "a")
    with pytest.raises(UsageError):
        save_checkpoint_model(model, "lrn-mobilenetv2", {"bad": object()}, tmp_path / "c")


def test_models_run_through_the_evaluator(tmp_path: Path) -> None:
    """A reference model (UTS) and a transformers model (UTSS) evaluate end to end on two frames."""
    import numpy as np

    from depthbench.evaluator import evaluate
    from depthbench.prepare import prepare_dataset

    root = tmp_path / "rooms"
    prepare_dataset("synthetic-rooms", None, root, frames={"test": 2}, splits=["test"])
    hf_folder = tiny_dpt(tmp_path / "dpt")
    for spec, kind in [("lrn-mobilenetv2", "uts"), (f"hf:{hf_folder}", "utss")]:
        result = evaluate(spec, "synthetic-rooms", root=root, progress=False)
        assert result.model.output_kind == kind
        assert result.images_evaluated == 2
        assert all(np.isfinite(v) for v in result.metrics.values())
