"""Training loop smoke tests on tiny generated data (CPU): loss falls, resume ≡ uninterrupted,
DDP (2 gloo processes) ≡ 1 process on the same global batch, the CLI runs."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from depthbench.data.prepared import PreparedWriter
from depthbench.models.base import ModelInfo, TorchDepthModel
from depthbench.train.config import load_config
from depthbench.types import DepthKind

TINY_SPEC = "tests.test_train_loop:tiny_depth"


class TinyDepth(TorchDepthModel):
    """Two 3×3 convs predicting log depth (metric): small enough for CPU tests."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.conv2 = nn.Conv2d(8, 1, 3, padding=1)
        self.info = ModelInfo(name="tiny", output_kind=DepthKind.METRIC, size_divisor=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.relu(self.conv1(x)))

    def output_to_depth(self, raw: torch.Tensor) -> torch.Tensor:
        return torch.exp(raw[:, 0])


def tiny_depth(**options: Any) -> TinyDepth:
    return TinyDepth(**options)


def write_tiny_rooms(root: Path, n: int = 16, hw: tuple[int, int] = (32, 32)) -> Path:
    """Frames whose depth is a function of the red channel and the row: learnable by a tiny net."""
    rng = np.random.default_rng(0)
    h, w = hw
    for split, count in (("train", n), ("test", 4)):
        with PreparedWriter(root, "synthetic-rooms", split, depth_storage="f32") as writer:
            for i in range(count):
                image = rng.integers(0, 256, size=(h, w, 3), dtype=np.uint8)
                rows = np.linspace(0, 1, h, dtype=np.float32)[:, None]
                depth = (1.0 + 3.0 * image[..., 0].astype(np.float32) / 255.0 + rows).astype(np.float32)
                writer.add(sample_id=f"{split}{i}", rgb=image, kind="metric", depth=depth, scene_id=f"s{i}")
    return root


def tiny_config(root: Path, **changes: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "name": "tiny",
        "model": {"name": TINY_SPEC},
        "data": {"sources": [{"dataset": "synthetic-rooms", "root": str(root), "cache": True}], "size": [32, 32],
                 "augment": {"flip": 0.5, "color_scale": [0.9, 1.1]}},
        "loss": [{"name": "log-l1"}],
        "optim": {"name": "adam", "lr": 1e-2},
        "batch_size": 4,
        "steps": 8,
        "seed": 3,
        "deterministic": True,
        "log_every": 1,
        "progress": False,
    }
    for key, value in changes.items():
        cfg[key] = value
    return cfg


def losses_of(out: Path) -> list[float]:
    rows = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_rooms(tmp_path_factory.mktemp("tiny_rooms"))


def test_few_dozen_steps_lower_the_loss(tiny_root: Path, tmp_path: Path) -> None:
    from depthbench.train.loop import train

    cfg = load_config(data=tiny_config(tiny_root, steps=40))
    train(cfg, tmp_path / "run", device="cpu")
    losses = losses_of(tmp_path / "run")
    assert len(losses) == 40
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])


def test_resume_equals_uninterrupted(tiny_root: Path, tmp_path: Path) -> None:
    from depthbench.train.loop import train

    # 6 steps over 16 frames at batch 4 → the resume point (step 3 = micro-batch 3 of 4) is mid-epoch
    for name in ("ranger", "sgd"):
        optim = {"name": name, "lr": 1e-2, "lookahead_k": 2, "weight_decay": 1e-4}
        full = tmp_path / f"full-{name}"
        train(load_config(data=tiny_config(tiny_root, steps=6, optim=optim)), full, device="cpu")
        part = tmp_path / f"part-{name}"
        train(load_config(data=tiny_config(tiny_root, steps=6, optim=optim, checkpoint_every=3)), part, device="cpu")
        # simulate an interruption after step 3: drop the final checkpoint and the later log lines
        import shutil

        shutil.rmtree(part / "checkpoints" / "step-00000006")
        (part / "checkpoints" / "latest.json").write_text(json.dumps({"checkpoint": "step-00000003", "step": 3}))
        lines = (part / "log.jsonl").read_text().splitlines()[:3]
        (part / "log.jsonl").write_text("\n".join(lines) + "\n")
        train(load_config(data=tiny_config(tiny_root, steps=6, optim=optim, checkpoint_every=3)), part, device="cpu", resume=True)
        np.testing.assert_allclose(losses_of(part), losses_of(full), rtol=1e-6, atol=1e-7)
        from safetensors.torch import load_file

        a = load_file(str(full / "checkpoints" / "step-00000006" / "model.safetensors"))
        b = load_file(str(part / "checkpoints" / "step-00000006" / "model.safetensors"))
        for key in a:
            torch.testing.assert_close(a[key], b[key], rtol=1e-6, atol=1e-7)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ddp_worker(rank: int, world: int, port: int, cfg: dict[str, Any], out: str) -> None:
    os.environ.update({"RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(world),
                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)})
    torch.set_num_threads(1)
    from depthbench.train.loop import train

    train(load_config(data=cfg), out, device="cpu")


def test_ddp_two_gloo_processes_match_one_process(tiny_root: Path, tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    from depthbench.train.loop import train

    val = {"dataset": "synthetic-rooms", "split": "test", "root": str(tiny_root), "every": 4, "batch_size": 1}
    # the SI loss is a mean over samples, so the mean of two ranks' batch-2 gradients equals the
    # batch-4 gradient exactly (up to float rounding)
    common = {"steps": 4, "loss": [{"name": "scale-invariant-pairwise"}, {"name": "log-l1"}], "val": val}
    single = tmp_path / "single"
    train(load_config(data=tiny_config(tiny_root, batch_size=4, **common)), single, device="cpu")
    ddp = tmp_path / "ddp"
    mp.spawn(_ddp_worker, args=(2, _free_port(), tiny_config(tiny_root, batch_size=2, **common), str(ddp)), nprocs=2, join=True)
    # the single process logs per-step batch-4 losses, the DDP run the sum over ranks / 4: the same
    np.testing.assert_allclose(losses_of(ddp), losses_of(single), rtol=1e-4)
    from safetensors.torch import load_file

    a = load_file(str(single / "checkpoints" / "step-00000004" / "model.safetensors"))
    b = load_file(str(ddp / "checkpoints" / "step-00000004" / "model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
    # validation metrics reduced as sums over the 2 shards equal the single-process evaluation
    s = json.loads((single / "summary.json").read_text())["history"][-1]
    d = json.loads((ddp / "summary.json").read_text())["history"][-1]
    for k in ("abs_rel", "rmse", "delta1"):
        assert d[k] == pytest.approx(s[k], rel=1e-4, abs=1e-6)


def test_validation_matches_evaluator_and_best_is_a_ckpt_model(tiny_root: Path, tmp_path: Path) -> None:
    from depthbench.evaluator import evaluate
    from depthbench.models import create_model
    from depthbench.train.loop import train

    val = {"dataset": "synthetic-rooms", "split": "test", "root": str(tiny_root), "every": 2, "batch_size": 2}
    out = tmp_path / "run"
    train(load_config(data=tiny_config(tiny_root, steps=2, val=val)), out, device="cpu")
    logged = json.loads((out / "summary.json").read_text())["history"][-1]
    net = TinyDepth()
    from safetensors.torch import load_file

    net.load_state_dict(load_file(str(out / "checkpoints" / "step-00000002" / "model.safetensors")))
    ref = evaluate(net, "synthetic-rooms", root=tiny_root, device="cpu", progress=False, overrides={"split": "test"})
    for k in ("abs_rel", "rmse", "delta1"):
        assert logged[k] == pytest.approx(ref.metrics[k], rel=1e-6)
    # the best checkpoint is a ckpt: folder (the tiny model is not registered, so read its config)
    config = json.loads((out / "best" / "config.json").read_text())
    assert config["model"] == TINY_SPEC and config["step"] == 2
    with pytest.raises(Exception, match="not a registered"):
        create_model(f"ckpt:{out / 'best'}")


def test_cli_train_recipe_runs_a_couple_of_steps(tiny_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from depthbench.cli import main

    out = tmp_path / "cli"
    code = main(["train", "--recipe", "lrn-synthetic-demo", "--device", "cpu", "--out", str(out),
                 "--set", f"data.sources.0.root={tiny_root}", "--set", "data.size=[64, 64]",
                 "--set", "model.options.input_size=[64, 64]", "--set", "steps=2", "--set", "batch_size=2",
                 "--set", "val.every=0", "--set", "progress=false", "--set", "log_every=1"])
    assert code == 0
    assert len(losses_of(out)) == 2
    assert (out / "checkpoints" / "step-00000002" / "model.safetensors").is_file()
    # the step checkpoint of a registered model is evaluable as ckpt:
    from depthbench.models import create_model

    model = create_model(f"ckpt:{out / 'checkpoints' / 'step-00000002'}")
    assert model.info.output_kind == DepthKind.METRIC


def test_cli_bad_override_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from depthbench.cli import main

    code = main(["train", "--recipe", "lrn-synthetic-demo", "--set", "optim.lr=fast"])
    err = capsys.readouterr().err.strip()
    assert code == 2
    assert err.count("\n") == 0 and "optim.lr" in err


def test_model_calling_set_loss_trains(tiny_root: Path, tmp_path: Path) -> None:
    """Li et al.'s set loss runs the model on the image set itself; the loop hands it the wrapper."""
    from depthbench.train.loop import train

    out = tmp_path / "set"
    cfg = tiny_config(tiny_root, steps=12, loss=[{"name": "li-set-log-depth"}], optim={"name": "adam", "lr": 1e-2})
    train(load_config(data=cfg), out, device="cpu")
    losses = losses_of(out)
    assert len(losses) == 12 and np.isfinite(losses).all()
    assert np.mean(losses[-3:]) < np.mean(losses[:3])


@pytest.mark.parametrize("recipe", ["densedepth-nyu", "lrn-mix", "li2018-dilated-nyu"])
def test_seed_recipes_run_one_step_on_tiny_data(recipe: str, tiny_root: Path, tmp_path: Path) -> None:
    """The seed recipes as shipped, pointed at tiny data (random init, 64×64, batch 2, fp32 on CPU)."""
    from depthbench.cli import main

    sets = ["data.size=[64, 64]", "steps=1", "batch_size=2", "model.options.pretrained=false", "val.every=0",
            "precision=fp32", "progress=false", "log_every=1", "data.num_workers=0", "optim.accumulate=1"]
    cfg = load_config(recipe=recipe)
    for i in range(len(cfg.data.sources)):
        sets += [f"data.sources.{i}.dataset=synthetic-rooms", f"data.sources.{i}.root={tiny_root}"]
    if "input_size" in cfg.model.options or recipe == "densedepth-nyu":
        sets.append("model.options.input_size=[64, 64]")
    args = ["train", "--recipe", recipe, "--device", "cpu", "--out", str(tmp_path / recipe)]
    for item in sets:
        args += ["--set", item]
    assert main(args) == 0
    (loss,) = losses_of(tmp_path / recipe)
    assert np.isfinite(loss) and loss > 0
