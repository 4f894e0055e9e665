"""The typed training configuration: YAML recipe + ``--set dotted.key=value`` overrides.

Every section is a pydantic model with ``extra="forbid"``, so a misspelt key or a wrong type is a
one-line ``ConfigError`` naming the dotted field (``optim.lr: Input should be a valid number``).
Shipped recipes live in ``depthbench/train/recipes/NAME.yaml`` (package data, inside the wheel).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from depthbench.errors import ConfigError
from depthbench.types import DepthKind

RECIPES_DIR = Path(__file__).with_name("recipes")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ModelConfig(_Strict):
    """``name``: a registered model (``depthbench list models``); ``options``: its factory's keywords."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)
    channels_last: bool = False
    compile: bool = False


class SourceConfig(_Strict):
    """One training source. ``kind`` overrides the rows' depth kind (e.g. treat a metric set as UTS);
    ``weight`` is its share of the mixture; ``cache`` keeps decoded frames in memory."""

    dataset: str
    split: str = "train"
    root: str | None = None
    weight: float = Field(1.0, gt=0)
    kind: DepthKind | None = None
    cache: bool = False


class AugmentConfig(_Strict):
    """Photometric and geometric augmentation, applied in this order: scale, rotation, crop (or
    resize to ``data.size``), flip, colour. Probabilities in [0, 1]; ranges as [low, high]."""

    scale: tuple[float, float] | None = None
    rotation_deg: float = Field(0.0, ge=0)
    flip: float = Field(0.0, ge=0, le=1)
    channel_swap: float = Field(0.0, ge=0, le=1)
    color_scale: tuple[float, float] | None = None
    brightness: float = Field(0.0, ge=0)
    contrast: float = Field(0.0, ge=0)


class DataConfig(_Strict):
    """``size``: (H, W) the network trains at — a random crop of that size when ``crop`` is true (the
    image is first resized up if smaller), else a resize. ``target_size``: the loss compares at the
    prediction's resolution; targets are resized (nearest) to it. ``samples_per_epoch``: mixture draws
    per epoch (default: total source length)."""

    sources: list[SourceConfig] = Field(min_length=1)
    size: tuple[int, int]
    crop: bool = False
    augment: AugmentConfig = Field(default_factory=AugmentConfig)
    samples_per_epoch: int | None = Field(None, gt=0)
    num_workers: int = Field(0, ge=0)
    pin_memory: bool = True


class LossTerm(_Strict):
    name: str
    weight: float = 1.0
    options: dict[str, Any] = Field(default_factory=dict)


class OptimConfig(_Strict):
    """``name``: adam | sgd | radam | ranger (RAdam + Lookahead). ``lr_mult``: parameter-name prefix →
    learning-rate multiplier (used when the model has no ``param_groups(base_lr)``)."""

    name: Literal["adam", "sgd", "radam", "ranger"] = "adam"
    lr: float = Field(1e-4, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    momentum: float = Field(0.9, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    lookahead_k: int = Field(6, ge=1)
    lookahead_alpha: float = Field(0.5, gt=0, le=1)
    lr_mult: dict[str, float] = Field(default_factory=dict)
    use_model_groups: bool = True
    grad_clip: float | None = Field(None, gt=0)
    accumulate: int = Field(1, ge=1)


class ScheduleConfig(_Strict):
    """``constant``; ``step``: lr × gamma^k with k = number of ``milestones`` passed, or, with ``every``,
    k = max(0, ⌊(step − start) / every⌋ + 1) for step ≥ start; ``poly``: lr × (1 − step/total)^power."""

    name: Literal["constant", "step", "poly"] = "constant"
    gamma: float = Field(0.1, gt=0)
    milestones: list[int] = Field(default_factory=list)
    start: int = Field(0, ge=0)
    every: int | None = Field(None, gt=0)
    power: float = Field(0.9, gt=0)
    warmup: int = Field(0, ge=0)


class PhaseConfig(_Strict):
    """A training phase: ``steps`` optimiser steps with parameters whose names start with a ``freeze``
    prefix frozen (e.g. Li et al.'s scale 3 trained with scales 1–2 fixed)."""

    name: str
    steps: int = Field(gt=0)
    freeze: list[str] = Field(default_factory=list)


class ValConfig(_Strict):
    dataset: str | None = None
    split: str | None = None
    root: str | None = None
    every: int = Field(0, ge=0)
    limit: int | None = Field(None, gt=0)
    batch_size: int = Field(4, gt=0)


class TrainConfig(_Strict):
    """A whole training run. Length: ``steps`` (optimiser steps) or ``phases`` (their steps in order)."""

    name: str = "run"
    description: str = ""
    model: ModelConfig
    data: DataConfig
    loss: list[LossTerm] = Field(min_length=1)
    optim: OptimConfig = Field(default_factory=OptimConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    batch_size: int = Field(8, gt=0)
    steps: int | None = Field(None, gt=0)
    phases: list[PhaseConfig] = Field(default_factory=list)
    precision: Literal["fp32", "bf16", "fp16"] = "fp32"
    seed: int = 0
    deterministic: bool = False
    val: ValConfig = Field(default_factory=ValConfig)
    log_every: int = Field(10, gt=0)
    checkpoint_every: int = Field(0, ge=0)
    tensorboard: bool = False
    progress: bool = True

    @field_validator("loss", mode="before")
    @classmethod
    def _one_loss(cls, value: Any) -> Any:
        if isinstance(value, (str, dict)):
            return [value if isinstance(value, dict) else {"name": value}]
        return value

    @model_validator(mode="after")
    def _length(self) -> TrainConfig:
        if (self.steps is None) == (not self.phases):
            raise ValueError("give exactly one of 'steps' or 'phases'")
        return self

    @property
    def total_steps(self) -> int:
        return self.steps if self.steps is not None else sum(p.steps for p in self.phases)

    def phase_at(self, step: int) -> PhaseConfig:
        """The phase that optimiser step ``step`` (0-based) belongs to."""
        if not self.phases:
            return PhaseConfig(name="main", steps=self.total_steps)
        end = 0
        for phase in self.phases:
            end += phase.steps
            if step < end:
                return phase
        return self.phases[-1]


def _error_line(exc: ValidationError, source: str) -> str:
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "(top level)"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{source}: {field}: {err['msg']}{more}"


def parse_value(text: str) -> Any:
    """A ``--set`` value: YAML scalar/list syntax (``1e-4``, ``true``, ``[240, 320]``, ``adam``)."""
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    if isinstance(value, str):
        try:  # YAML 1.1 reads "1e-4" (no dot) as a string; a number is meant
            return float(value)
        except ValueError:
            return value
    return value


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` strings to a nested dict (list items addressed by index: ``loss.0.weight``)."""
    out = yaml.safe_load(yaml.safe_dump(data))  # deep copy of plain data
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected dotted.key=value")
        node: Any = out
        parts = key.split(".")
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit() or int(part) >= len(node):
                    raise ConfigError(f"--set {key}: {'.'.join(parts[:i]) or 'config'} is a list; {part!r} is not an index in it")
                idx = int(part)
                if last:
                    node[idx] = parse_value(value)
                else:
                    node = node[idx]
            else:
                if last:
                    node[part] = parse_value(value)
                else:
                    child = node.get(part)
                    if child is None:
                        child = node[part] = {}
                    if not isinstance(child, (dict, list)):
                        raise ConfigError(f"--set {key}: {'.'.join(parts[: i + 1])} is a value, not a section")
                    node = child
    return out


def list_recipes() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def recipe_path(name: str) -> Path:
    path = RECIPES_DIR / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"--recipe {name!r}: no such training recipe (known: {', '.join(list_recipes())})")
    return path


def load_config(path: str | Path | None = None, *, recipe: str | None = None, overrides: list[str] = (),
                data: dict[str, Any] | None = None) -> TrainConfig:
    """Build a ``TrainConfig`` from a YAML file, a shipped recipe name, or a dict, then ``overrides``."""
    if sum(x is not None for x in (path, recipe, data)) != 1:
        raise ConfigError("give exactly one of --config FILE or --recipe NAME")
    source = "config"
    if data is None:
        file = recipe_path(recipe) if recipe is not None else Path(path)  # type: ignore[arg-type]
        source = str(file)
        if not file.is_file():
            raise ConfigError(f"--config {file}: file not found")
        try:
            data = yaml.safe_load(file.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{file}: not valid YAML ({str(exc).splitlines()[0]})") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"{file}: expected a mapping at the top level")
    data = apply_overrides(data, list(overrides))
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_error_line(exc, source)) from None
