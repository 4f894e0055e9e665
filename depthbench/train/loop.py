"""The training loop: ``train(cfg, out_dir)``.

Per optimiser step: ``optim.accumulate`` micro-batches (DDP gradient sync only on the last), each
under autocast (bf16/fp16 on CUDA; bf16 also on CPU), loss in fp32 on the prediction's resolution
(targets resized nearest), optional gradient clipping (global L2 norm), frozen parameters of the
current phase dropped from the update (their grads set to None), then the lr of the next step.
Every ``log_every`` steps rank 0 appends ``{"step", "loss", "lr", ...}`` to ``OUT/log.jsonl`` (loss =
Σ loss·n / Σ n over ranks); every ``val.every`` steps the model is validated with the evaluator's
protocol (sharded over ranks, accumulator states summed); the best ``headline`` metric is exported to
``OUT/best`` (``ckpt:`` format); every ``checkpoint_every`` steps and at the end a resumable checkpoint.
"""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from depthbench.errors import ConfigError, UsageError
from depthbench.losses import get_loss
from depthbench.train import checkpoint as ckpt
from depthbench.train.config import LossTerm, TrainConfig, ValConfig
from depthbench.train.data import build_loader
from depthbench.train.distributed import (
    DistInfo,
    all_reduce_sum,
    barrier,
    cleanup,
    init_distributed,
    local_device,
)
from depthbench.train.optim import build_optimizer, set_lr

AMP_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def seed_everything(seed: int, deterministic: bool) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if deterministic:
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.benchmark = False
    else:
        torch.backends.cudnn.benchmark = True


def _model_calling_losses() -> dict[str, Any]:
    """Losses that run the model themselves (Li et al.'s set losses: the image set is one batch)."""
    from depthbench.losses.li_set_loss import LI_MODEL_LOSSES

    return LI_MODEL_LOSSES


def resolve_losses(terms: list[LossTerm]) -> list[tuple[LossTerm, Any, str]]:
    """(term, function, canonical name) for every loss term; unknown names fail before any work.
    A registered loss wins; otherwise a model-calling loss (``_model_calling_losses``) is built with
    the term's options and marked by the name prefix ``model:``."""
    from depthbench.losses import LOSSES, list_losses

    list_losses()
    calling = _model_calling_losses()
    out = []
    for t in terms:
        if t.name not in LOSSES and t.name in calling:
            out.append((t, calling[t.name](**t.options), f"model:{t.name}"))
        else:
            out.append((t, get_loss(t.name), LOSSES.canonical(t.name)))
    return out


class _ModelCaller:
    """What a model-calling loss sees: ``normalize`` of the model, and a call that goes through the
    (DDP / compiled) training wrapper under the run's autocast, returning fp32."""

    def __init__(self, net: nn.Module, base: nn.Module, device: torch.device, amp: torch.dtype | None) -> None:
        self.net, self.normalize, self.device, self.amp = net, base.normalize, device, amp

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(self.device.type, dtype=self.amp, enabled=self.amp is not None):
            return self.net(x).float()


def compute_loss(losses: list[tuple[LossTerm, Any, str]], raw: torch.Tensor, depth: torch.Tensor,
                 valid: torch.Tensor, is_uts: torch.Tensor) -> torch.Tensor:
    """Σ weight · loss over the terms. ``raw`` B×1×h×w network output; targets resized to h×w (nearest).

    Input conventions: ``uts-utss-mixture`` gets (log depth, target, mask, is_uts);
    ``shift-scale-invariant`` compares exp(−raw) with 1/depth (inverse depth); every other loss gets
    (raw, depth, mask) as its docstring states (log depth for the SI/log losses, m/depth for densedepth).
    """
    # one-channel outputs become B×h×w; multi-channel ones (class logits) stay B×K×h×w
    pred = raw[:, 0] if raw.ndim == 4 and raw.shape[1] == 1 else raw
    pred = pred.float()
    if depth.shape[-2:] != pred.shape[-2:]:
        depth = F.interpolate(depth[:, None], size=pred.shape[-2:], mode="nearest")[:, 0]
        valid = F.interpolate(valid[:, None].float(), size=pred.shape[-2:], mode="nearest")[:, 0] > 0.5
    valid = valid & (depth > 0)
    total = pred.new_zeros(())
    for term, fn, name in losses:
        if name.startswith("model:"):
            continue
        if name == "uts-utss-mixture":
            value = fn(pred, depth, valid, is_uts, **term.options)
        elif name == "shift-scale-invariant":
            inv = torch.where(valid, 1.0 / depth.clamp_min(1e-6), torch.zeros_like(depth))
            value = fn(torch.exp(-pred), inv, valid, **term.options)
        else:
            value = fn(pred, depth, valid, **term.options)
        total = total + term.weight * value
    return total


class _Shard:
    """Every ``world``-th sample of a dataset starting at ``rank`` (a Sequence for the evaluator)."""

    def __init__(self, data: Any, rank: int, world: int, limit: int | None) -> None:
        n = len(data) if limit is None else min(limit, len(data))
        self.data, self.indices = data, list(range(rank, n, world))

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int) -> Any:
        return self.data[self.indices[i]]


@torch.no_grad()
def validate(model: nn.Module, val: ValConfig, info: DistInfo, device: torch.device) -> dict[str, float]:
    """The dataset's evaluation protocol (``depthbench.evaluator``) over this rank's shard; every
    metric family's accumulator state (sums) is all-reduced, then finalised: the same numbers as
    ``evaluate(model, val.dataset, limit=val.limit)`` in one process."""
    from depthbench.catalog import get_manifest, gt_split_name
    from depthbench.data.dataset import load_dataset
    from depthbench.evaluator import _batches, _Evaluation
    from depthbench.metrics import METRICS, discover_metrics
    from depthbench.protocol import default_protocol
    from depthbench.types import DepthKind

    protocol = default_protocol(val.dataset, **({"split": val.split} if val.split else {}))
    manifest = get_manifest(protocol.dataset)
    data = load_dataset(manifest.name, gt_split_name(manifest, protocol.split, protocol.gt_variant), val.root)
    discover_metrics()
    run = _Evaluation(protocol, [METRICS.canonical(m) for m in protocol.metrics])
    was_training = model.training
    model.eval()
    declared = DepthKind(model.info.output_kind)
    with torch.inference_mode():
        for samples in _batches(_Shard(data, info.rank, info.world_size, val.limit), val.batch_size, None):
            run.add_batch(model, model.info.name, samples, declared, device)
    model.train(was_training)
    for acc in run.accumulators.values():
        acc.load_state(all_reduce_sum(acc.state, info, device))
    return run.metrics()


def _apply_freeze(model: nn.Module, prefixes: list[str]) -> list[nn.Parameter]:
    frozen = [p for n, p in model.named_parameters() if any(n.startswith(pre) for pre in prefixes)]
    if prefixes and not frozen:
        raise ConfigError(f"phases.freeze: {prefixes} match no parameter of the model")
    return frozen


def _config_dict(cfg: TrainConfig) -> dict[str, Any]:
    return json.loads(cfg.model_dump_json())


def train(cfg: TrainConfig, out_dir: str | Path, device: str | None = None, resume: bool | str | Path = False) -> dict[str, Any]:
    """Run ``cfg``; returns a summary (final step, last loss, validation history, best metric)."""
    from depthbench.evaluator import resolve_device
    from depthbench.models import create_model

    out = Path(out_dir)
    torch_device = resolve_device(device)
    info = init_distributed(torch_device)
    torch_device = local_device(torch_device, info)
    try:
        return _train(cfg, out, torch_device, info, resume, create_model)
    finally:
        cleanup(info)


def _train(cfg: TrainConfig, out: Path, device: torch.device, info: DistInfo, resume: bool | str | Path,
           create_model: Any) -> dict[str, Any]:
    seed_everything(cfg.seed, cfg.deterministic)
    losses = resolve_losses(cfg.loss)
    if cfg.precision == "fp16" and device.type != "cuda":
        raise ConfigError("precision: fp16 autocast needs CUDA (use bf16 or fp32 on CPU)")
    model = create_model(cfg.model.name, **cfg.model.options)
    if not isinstance(model, nn.Module) or not hasattr(model, "normalize"):
        raise ConfigError(f"model.name: {cfg.model.name!r} is not a trainable depthbench TorchDepthModel")
    model.to(device)
    if cfg.model.channels_last:
        model.to(memory_format=torch.channels_last)
    model.train()
    optimizer = build_optimizer(model, cfg.optim)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.precision == "fp16")
    net: nn.Module = model
    if info.enabled:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.model.compile:
        net = torch.compile(net)  # type: ignore[assignment]
    loader, sampler = build_loader(cfg.data, cfg.seed, cfg.batch_size, info.rank, info.world_size, device)
    micro_per_epoch = len(loader)
    total = cfg.total_steps
    accumulate = cfg.optim.accumulate
    step, best, history = 0, None, []
    extra: dict[str, Any] = {}
    if resume:
        folder = ckpt.latest_checkpoint(out) if resume is True else Path(resume)
        if folder is None:
            raise UsageError(f"--resume: no checkpoint under {out / 'checkpoints'}")
        state = ckpt.load_training_checkpoint(folder, model, optimizer, scaler)
        step = int(state["step"])
        extra = state.get("extra", {})
        best, history = extra.get("best"), extra.get("history", [])
    headline = None
    if cfg.val.dataset and cfg.val.every:
        from depthbench.catalog import get_manifest

        headline = get_manifest(cfg.val.dataset).eval.headline
    if info.is_main:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(json.dumps(_config_dict(cfg), indent=2) + "\n", encoding="utf-8")
    writer = None
    if cfg.tensorboard and info.is_main:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as exc:
            raise ConfigError("tensorboard: true needs the 'tensorboard' package") from exc
        writer = SummaryWriter(str(out / "tensorboard"))
    from tqdm.auto import tqdm

    bar = tqdm(total=total, initial=step, desc=cfg.name, unit="step", disable=not (cfg.progress and info.is_main))
    log_path = out / "log.jsonl"
    amp = AMP_DTYPES.get(cfg.precision)
    base = model
    pure_losses = [t for t in losses if not t[2].startswith("model:")]
    calling_losses = [t for t in losses if t[2].startswith("model:")]
    caller = _ModelCaller(net, base, device, amp)
    loss_sum = torch.zeros((), dtype=torch.float64, device=device)
    loss_n = torch.zeros((), dtype=torch.float64, device=device)
    images_seen, t_last = 0, time.perf_counter()
    micro = step * accumulate
    epoch = micro // micro_per_epoch
    skip = micro % micro_per_epoch
    phase = cfg.phase_at(step)
    frozen = _apply_freeze(base, phase.freeze)
    set_lr(optimizer, cfg.schedule, step, total)
    while step < total:
        sampler.set_epoch(epoch)
        sampler.skip = skip * cfg.batch_size
        skip = 0
        for batch in loader:
            micro += 1
            images = batch["image"].to(device, non_blocking=True).float().div_(255.0)
            if cfg.model.channels_last:
                images = images.contiguous(memory_format=torch.channels_last)
            depth = batch["depth"].to(device, non_blocking=True)
            valid = batch["valid"].to(device, non_blocking=True)
            is_uts = batch["is_uts"].to(device, non_blocking=True)
            last_micro = micro % accumulate == 0
            context = net.no_sync() if (info.enabled and not last_micro and hasattr(net, "no_sync")) else _null()
            with context:
                loss = images.new_zeros(())
                if pure_losses:
                    with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
                        raw = net(base.normalize(images))
                    loss = compute_loss(pure_losses, raw, depth, valid, is_uts)
                for term, fn, _ in calling_losses:
                    loss = loss + term.weight * fn(caller, images, depth, valid, step=step)["loss"]
                scaler.scale(loss / accumulate).backward()
            loss_sum += loss.detach().double() * images.shape[0]
            loss_n += images.shape[0]
            images_seen += images.shape[0]
            if not last_micro:
                continue
            for p in frozen:
                p.grad = None
            if cfg.optim.grad_clip is not None:
                scaler.unscale_(optimizer)
                torch.nn.utils.clip_grad_norm_([p for g in optimizer.param_groups for p in g["params"] if p.grad is not None],
                                               cfg.optim.grad_clip)
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            bar.update(1)
            lr_now = optimizer.param_groups[0]["lr"]
            if step < total:
                new_phase = cfg.phase_at(step)
                if new_phase.name != phase.name:
                    phase, frozen = new_phase, _apply_freeze(base, new_phase.freeze)
                set_lr(optimizer, cfg.schedule, step, total)
            if step % cfg.log_every == 0 or step == total:
                sums = all_reduce_sum(torch.stack([loss_sum, loss_n]), info, device)
                now = time.perf_counter()
                record = {"step": step, "epoch": epoch, "phase": phase.name, "loss": float(sums[0] / max(sums[1], 1)),
                          "lr": lr_now, "images_per_s": images_seen * info.world_size / max(now - t_last, 1e-9)}
                loss_sum.zero_()
                loss_n.zero_()
                images_seen, t_last = 0, now
                if info.is_main:
                    _append(log_path, record)
                    bar.set_postfix(loss=f"{record['loss']:.4f}")
                    if writer is not None:
                        writer.add_scalar("train/loss", record["loss"], step)
                        writer.add_scalar("train/lr", lr_now, step)
            if headline and (step % cfg.val.every == 0 or step == total):
                metrics = validate(base, cfg.val, info, device)
                better = _is_better(headline, metrics.get(headline), best)
                if better:
                    best = {"step": step, headline: metrics[headline]}
                history.append({"step": step, **metrics})
                if info.is_main:
                    _append(log_path, {"step": step, "val": metrics})
                    if writer is not None:
                        for k, v in metrics.items():
                            writer.add_scalar(f"val/{k}", v, step)
                    if better:
                        ckpt.export_best(out, base, cfg.model.name, cfg.model.options,
                                         {"train_config": _config_dict(cfg), "step": step, "val": metrics})
            if (cfg.checkpoint_every and step % cfg.checkpoint_every == 0) or step == total:
                if info.is_main:
                    ckpt.save_training_checkpoint(out, base, cfg.model.name, cfg.model.options, optimizer,
                                                  scaler if cfg.precision == "fp16" else None, step, epoch,
                                                  _config_dict(cfg), {"best": best, "history": history})
                barrier(info)
            if step >= total:
                break
        epoch += 1
    bar.close()
    if writer is not None:
        writer.close()
    summary = {"steps": step, "best": best, "history": history, "out": str(out)}
    if info.is_main:
        (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary


class _null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _is_better(name: str, value: float | None, best: dict[str, Any] | None) -> bool:
    if value is None or not math.isfinite(value):
        return False
    if best is None:
        return True
    from depthbench.metrics import METRICS

    higher = any(fam.higher_is_better.get(name, False) for fam in (METRICS.get(n) for n in METRICS.names()) if name in fam.outputs)
    return value > best[name] if higher else value < best[name]


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
