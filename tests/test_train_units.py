"""Unit tests of the training building blocks against independent oracles: config validation and
overrides, Lookahead, schedules, per-layer lrs, the mixture sampler, augmentation, checkpoint state."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from depthbench.errors import ConfigError
from depthbench.train.config import (
    AugmentConfig,
    OptimConfig,
    ScheduleConfig,
    apply_overrides,
    list_recipes,
    load_config,
)
from depthbench.train.data import Frame, MixtureSampler, augment
from depthbench.train.optim import Lookahead, build_optimizer, lr_factor, parameter_groups
from depthbench.types import DepthKind


def test_every_shipped_recipe_validates() -> None:
    names = list_recipes()
    assert {"densedepth-nyu", "li2017-multiscale-nyu", "li2018-dilated-nyu", "lrn-mix", "lrn-synthetic-demo"} <= set(names)
    for name in names:
        cfg = load_config(recipe=name)
        assert cfg.total_steps > 0 and cfg.name == name


def test_densedepth_recipe_is_the_paper_setting() -> None:
    cfg = load_config(recipe="densedepth-nyu")
    assert (cfg.optim.name, cfg.optim.lr, cfg.optim.betas, cfg.batch_size) == ("adam", 1e-4, (0.9, 0.999), 8)
    assert cfg.data.size == (480, 640) and cfg.data.augment.flip == 0.5 and cfg.data.augment.channel_swap > 0


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        (["optim.lr=fast"], "optim.lr"),
        (["optim.name=adamw"], "optim.name"),
        (["data.augment.flip=2"], "data.augment.flip"),
        (["optim.learning_rate=1"], "optim.learning_rate"),
        (["batch_size=0"], "batch_size"),
    ],
)
def test_bad_config_is_one_line_naming_the_field(overrides: list[str], field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(recipe="lrn-synthetic-demo", overrides=overrides)
    message = str(info.value)
    assert "\n" not in message and field in message


def test_bad_files_and_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such training recipe"):
        load_config(recipe="nope")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    with pytest.raises(ConfigError, match="steps"):
        load_config(data={"model": {"name": "x"}, "data": {"sources": [{"dataset": "d"}], "size": [8, 8]}, "loss": "l1"})


def test_overrides_set_nested_values_and_list_items() -> None:
    data = {"a": {"b": 1}, "loss": [{"name": "x", "weight": 1.0}]}
    out = apply_overrides(data, ["a.b=2e-3", "a.c=[1, 2]", "loss.0.weight=0.5", "flag=true"])
    assert out == {"a": {"b": 2e-3, "c": [1, 2]}, "loss": [{"name": "x", "weight": 0.5}], "flag": True}
    assert data["a"]["b"] == 1  # input untouched
    with pytest.raises(ConfigError, match="loss"):
        apply_overrides(data, ["loss.3.weight=1"])
    with pytest.raises(ConfigError, match="dotted.key=value"):
        apply_overrides(data, ["novalue"])


def test_lookahead_matches_algorithm_1() -> None:
    """Oracle: plain-SGD fast weights, every k steps φ ← φ + α(θ − φ), θ ← φ (Zhang et al. 2019)."""
    torch.manual_seed(0)
    target = torch.randn(5)
    p = nn.Parameter(torch.zeros(5))
    opt = Lookahead(torch.optim.SGD([p], lr=0.1), k=3, alpha=0.5)
    theta = np.zeros(5)
    phi = np.zeros(5)
    t = target.numpy().astype(np.float64)
    for step in range(1, 10):
        opt.zero_grad()
        ((p - target) ** 2).sum().backward()
        opt.step()
        theta = theta - 0.1 * 2 * (theta - t)
        if step % 3 == 0:
            phi = phi + 0.5 * (theta - phi)
            theta = phi.copy()
        np.testing.assert_allclose(p.detach().numpy(), theta, rtol=1e-5, atol=1e-6)


def test_lookahead_state_round_trip() -> None:
    p = nn.Parameter(torch.ones(3))
    opt = Lookahead(torch.optim.RAdam([p], lr=0.1), k=2)
    for _ in range(3):
        opt.zero_grad()
        (p**2).sum().backward()
        opt.step()
    import copy

    state = copy.deepcopy(opt.state_dict())
    q = nn.Parameter(p.detach().clone())
    other = Lookahead(torch.optim.RAdam([q], lr=0.1), k=2)
    other.load_state_dict(state)
    for _ in range(3):
        for param, o in ((p, opt), (q, other)):
            o.zero_grad()
            (param**2).sum().backward()
            o.step()
    torch.testing.assert_close(p, q)
    # lr changes reach the inner optimiser even after load_state_dict replaced its groups
    other.param_groups[0]["lr"] = 0.5
    assert other.inner.param_groups[0]["lr"] == 0.5


@given(step=st.integers(0, 100_000))
@settings(max_examples=60, deadline=None)
def test_step_schedule_li2018(step: int) -> None:
    """lr 1e-3 until 30k, then /10 at 30k, 40k, 50k, ... (seed 003)."""
    cfg = ScheduleConfig(name="step", gamma=0.1, start=30_000, every=10_000)
    expected = 1.0 if step < 30_000 else 0.1 ** ((step - 30_000) // 10_000 + 1)
    assert lr_factor(cfg, step, 100_000) == pytest.approx(expected)


def test_poly_and_milestones_and_warmup() -> None:
    poly = ScheduleConfig(name="poly", power=0.9)
    assert lr_factor(poly, 50, 100) == pytest.approx(0.5**0.9)
    ms = ScheduleConfig(name="step", milestones=[10, 20])
    assert [lr_factor(ms, s, 30) for s in (9, 10, 19, 20)] == pytest.approx([1, 0.1, 0.1, 0.01])
    warm = ScheduleConfig(name="constant", warmup=4)
    assert [lr_factor(warm, s, 10) for s in range(5)] == pytest.approx([0.25, 0.5, 0.75, 1, 1])


def test_per_layer_learning_rates() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    groups = parameter_groups(model, OptimConfig(lr=0.1, lr_mult={"0.": 0.1}))
    lrs = {g["name"]: g["lr"] for g in groups}
    assert lrs == pytest.approx({"0.": 0.01, "default": 0.1})
    assert sum(len(g["params"]) for g in groups) == 4
    with pytest.raises(ConfigError, match="encoder"):
        parameter_groups(model, OptimConfig(lr_mult={"encoder": 2.0}))

    class WithGroups(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(1, 1), nn.Linear(1, 1)

        def param_groups(self, base_lr: float) -> list[dict]:
            return [{"params": list(self.a.parameters()), "lr": base_lr}, {"params": list(self.b.parameters()), "lr": base_lr * 10}]

    opt = build_optimizer(WithGroups(), OptimConfig(name="sgd", lr=1e-3))
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1e-3, 1e-2])


@given(world=st.integers(1, 4), batch=st.integers(1, 4), seed=st.integers(0, 99))
@settings(max_examples=30, deadline=None)
def test_mixture_sampler_shards_partition_the_epoch(world: int, batch: int, seed: int) -> None:
    full = MixtureSampler([7, 5], [1.0, 3.0], 40, seed, 0, 1, world * batch)
    shards = [list(MixtureSampler([7, 5], [1.0, 3.0], 40, seed, r, world, batch)) for r in range(world)]
    merged = [shards[i % world][i // world] for i in range(sum(len(s) for s in shards))]
    assert merged == list(full)
    assert len({len(s) for s in shards}) == 1


def test_mixture_sampler_weights_rows_and_resume_skip() -> None:
    s = MixtureSampler([10, 10], [1.0, 3.0], 4000, seed=1)
    draws = list(s)
    share = np.mean([d[2] == 1 for d in draws])
    assert 0.72 < share < 0.78
    # without replacement within a pass: the first 10 draws of one source are a permutation
    first = [d[3] for d in draws if d[2] == 0][:10]
    assert sorted(first) == list(range(10))
    s.skip = 5
    assert list(s) == draws[5:]
    s.set_epoch(1)
    assert list(s)[:3] != draws[5:8]


def _frame(h: int = 6, w: int = 8, kind: DepthKind = DepthKind.METRIC) -> Frame:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
    depth = rng.uniform(1, 5, size=(h, w)).astype(np.float32)
    return Frame(image, depth, np.ones((h, w), bool), kind)


def test_augment_flip_and_channel_swap_are_exact() -> None:
    frame = _frame()
    out = augment(_frame(), AugmentConfig(flip=1.0), (6, 8), False, np.random.default_rng(0))
    np.testing.assert_array_equal(out.image, frame.image[:, ::-1])
    np.testing.assert_array_equal(out.depth, frame.depth[:, ::-1])
    out = augment(_frame(), AugmentConfig(channel_swap=1.0), (6, 8), False, np.random.default_rng(3))
    perms = [p for p in ([0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]) if np.array_equal(out.image, frame.image[..., p])]
    assert perms


def test_augment_scale_divides_metric_depth_and_crop_keeps_pairs() -> None:
    frame = _frame(20, 20)
    out = augment(_frame(20, 20), AugmentConfig(scale=(2.0, 2.0)), (10, 10), True, np.random.default_rng(0))
    assert out.image.shape == (10, 10, 3) and out.depth.shape == (10, 10)
    # nearest-neighbour ×2: every output depth is some input depth / 2
    assert np.isin(np.round(out.depth * 2, 4), np.round(frame.depth, 4)).all()
    uts = augment(_frame(20, 20, DepthKind.UTS), AugmentConfig(scale=(2.0, 2.0)), (10, 10), True, np.random.default_rng(0))
    assert np.isin(np.round(uts.depth, 4), np.round(frame.depth, 4)).all()


def test_augment_rotation_invalidates_corners() -> None:
    seed = next(s for s in range(100) if abs(np.random.default_rng(s).uniform(-30, 30)) > 15)
    out = augment(_frame(32, 32), AugmentConfig(rotation_deg=30.0), (32, 32), False, np.random.default_rng(seed))
    assert not out.valid[0, 0] and not out.valid[-1, -1] and out.valid[16, 16]
    assert (out.depth[~out.valid] == 0).all()


def test_checkpoint_state_round_trip_without_pickle(tmp_path: Path) -> None:
    from depthbench.train.checkpoint import flatten, unflatten

    model = nn.Linear(3, 2)
    opt = build_optimizer(model, OptimConfig(name="ranger", lr=0.01, lookahead_k=2))
    for _ in range(3):
        opt.zero_grad()
        model(torch.ones(4, 3)).sum().backward()
        opt.step()
    tensors: dict[str, torch.Tensor] = {}
    structure = flatten(opt.state_dict(), tensors)
    text = json.dumps(structure)  # plain JSON: no pickle anywhere
    restored = unflatten(json.loads(text), tensors)
    original = opt.state_dict()
    assert restored["counter"] == original["counter"]
    assert restored["inner"]["param_groups"][0]["betas"] == original["inner"]["param_groups"][0]["betas"]
    for key, st_ in original["inner"]["state"].items():
        for name, value in st_.items():
            torch.testing.assert_close(restored["inner"]["state"][key][name], value)


def test_log_l1_loss_oracle() -> None:
    from depthbench.losses import get_loss

    rng = np.random.default_rng(1)
    pred = rng.normal(size=(2, 4, 5))
    target = rng.uniform(0.5, 4, size=(2, 4, 5))
    target[0, 0, 0] = 0.0  # invalid
    mask = np.ones_like(target, bool)
    mask[1, 2, :] = False
    keep = mask & (target > 0)
    expected = np.abs(pred - np.log(np.where(keep, target, 1)))[keep].mean()
    value = get_loss("log-l1")(torch.tensor(pred), torch.tensor(target), torch.tensor(mask))
    assert float(value) == pytest.approx(expected)


def test_compute_loss_resizes_targets_to_the_prediction() -> None:
    """DenseDepth predicts at half resolution: targets are brought to the prediction's size (nearest)."""
    from depthbench.losses import get_loss
    from depthbench.train.config import LossTerm
    from depthbench.train.loop import compute_loss, resolve_losses

    depth = torch.arange(1, 65, dtype=torch.float32).view(1, 8, 8) / 8
    valid = torch.ones(1, 8, 8, dtype=torch.bool)
    raw = torch.zeros(1, 1, 4, 4)
    terms = resolve_losses([LossTerm(name="log-l1", weight=2.0)])
    value = compute_loss(terms, raw, depth, valid, torch.tensor([False]))
    small = depth[:, ::2, ::2]  # nearest ×0.5 picks the even rows/cols
    expected = 2.0 * get_loss("log-l1")(raw[:, 0], small, torch.ones_like(small, dtype=torch.bool))
    assert float(value) == pytest.approx(float(expected))


def test_config_file_via_cli_reports_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from depthbench.cli import main

    cfg = tmp_path / "run.yaml"
    cfg.write_text("model: {name: lrn-mobilenetv2}\ndata: {sources: [{dataset: synthetic-rooms}], size: [64, 64]}\n"
                   "loss: log-l1\nsteps: 2\noptim: {name: adam, momentun: 0.9}\n")
    assert main(["train", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "optim.momentun" in err and str(cfg) in err
