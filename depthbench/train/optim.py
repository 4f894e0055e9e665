"""Optimisers and learning-rate schedules of the seed recipes.

- Adam (Kingma & Ba 2015; DenseDepth: lr 1e-4, β = (0.9, 0.999)); SGD with momentum (Li et al. 2018:
  momentum 0.9, weight decay 4e-4); RAdam (Liu et al. 2020); Ranger = Lookahead(RAdam) (seed 004).
- Lookahead (Zhang et al. 2019, "Lookahead Optimizer: k steps forward, 1 step back", Alg. 1): keep
  slow weights φ; every k inner steps, φ ← φ + α(θ − φ) and θ ← φ.
- Schedules (multiplier of each group's base lr at optimiser step t): constant; step:
  γ^(milestones passed) or, with ``every``, γ^(⌊(t − start)/every⌋ + 1) for t ≥ start; poly:
  (1 − t/T)^power; optional linear warm-up over the first ``warmup`` steps.
- Per-layer learning rates: the model's ``param_groups(base_lr)`` when it has one (Li et al.), else
  ``lr_mult``: parameter-name prefix → multiplier (longest prefix wins).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from depthbench.errors import ConfigError
from depthbench.train.config import OptimConfig, ScheduleConfig


class Lookahead(torch.optim.Optimizer):
    """Wraps an inner optimiser; every ``k`` steps pulls the fast weights θ towards the slow ones φ:
    φ ← φ + α(θ − φ); θ ← φ (Zhang et al. 2019, Alg. 1). Shares the inner optimiser's param groups."""

    def __init__(self, inner: torch.optim.Optimizer, k: int = 6, alpha: float = 0.5) -> None:
        if k < 1 or not 0 < alpha <= 1:
            raise ConfigError(f"optim: lookahead needs k ≥ 1 and 0 < alpha ≤ 1, got k={k}, alpha={alpha}")
        self.inner = inner
        self.k = k
        self.alpha = alpha
        self.defaults = inner.defaults
        self.counter = 0
        self.slow: list[torch.Tensor] = [p.detach().clone() for g in self.param_groups for p in g["params"]]

    # delegated, not copied: the inner optimiser replaces these objects in load_state_dict
    @property  # type: ignore[override]
    def param_groups(self) -> list[dict[str, Any]]:
        return self.inner.param_groups

    @property  # type: ignore[override]
    def state(self) -> Any:
        return self.inner.state

    def _params(self) -> list[torch.Tensor]:
        return [p for g in self.param_groups for p in g["params"]]

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> Any:  # type: ignore[override]
        loss = self.inner.step(closure)
        self.counter += 1
        if self.counter % self.k == 0:
            for p, slow in zip(self._params(), self.slow):
                slow.add_(p.detach() - slow, alpha=self.alpha)
                p.copy_(slow)
        return loss

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.inner.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "counter": self.counter, "slow": list(self.slow)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.inner.load_state_dict(state["inner"])
        self.counter = int(state["counter"])
        for dst, src in zip(self.slow, state["slow"]):
            dst.copy_(src)


def parameter_groups(model: nn.Module, cfg: OptimConfig) -> list[dict[str, Any]]:
    """Param groups with their lrs (see the module docstring). Each group gets ``initial_lr``."""
    base = getattr(model, "module", model)
    if cfg.use_model_groups and hasattr(base, "param_groups") and not cfg.lr_mult:
        groups = [dict(g) for g in base.param_groups(cfg.lr)]
    else:
        buckets: dict[str, list[nn.Parameter]] = {}
        for name, p in base.named_parameters():
            matches = [pre for pre in cfg.lr_mult if name.startswith(pre)]
            buckets.setdefault(max(matches, key=len) if matches else "", []).append(p)
        unused = [pre for pre in cfg.lr_mult if pre not in buckets]
        if unused:
            raise ConfigError(f"optim.lr_mult: prefix {unused[0]!r} matches no parameter of the model")
        groups = [{"name": pre or "default", "params": ps, "lr": cfg.lr * cfg.lr_mult.get(pre, 1.0)}
                  for pre, ps in buckets.items()]
    for g in groups:
        g["initial_lr"] = g["lr"]
    return groups


def build_optimizer(model: nn.Module, cfg: OptimConfig) -> torch.optim.Optimizer:
    groups = parameter_groups(model, cfg)
    if cfg.name == "adam":
        return torch.optim.Adam(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    radam = torch.optim.RAdam(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    if cfg.name == "radam":
        return radam
    return Lookahead(radam, k=cfg.lookahead_k, alpha=cfg.lookahead_alpha)


def lr_factor(cfg: ScheduleConfig, step: int, total: int) -> float:
    """The multiplier of every group's base lr at optimiser step ``step`` (0-based)."""
    factor = 1.0
    if cfg.name == "step":
        if cfg.every is not None:
            k = (step - cfg.start) // cfg.every + 1 if step >= cfg.start else 0
        else:
            k = sum(1 for m in cfg.milestones if step >= m)
        factor = cfg.gamma**k
    elif cfg.name == "poly":
        factor = max(0.0, 1.0 - step / max(1, total)) ** cfg.power
    if cfg.warmup and step < cfg.warmup:
        factor *= (step + 1) / cfg.warmup
    return factor


def set_lr(optimizer: torch.optim.Optimizer, cfg: ScheduleConfig, step: int, total: int) -> float:
    """Set each group's lr = initial_lr × lr_factor(step); returns the factor."""
    factor = lr_factor(cfg, step, total)
    for g in optimizer.param_groups:
        g["lr"] = g["initial_lr"] * factor
    return factor
