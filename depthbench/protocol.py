"""Evaluation protocols and benchmark suites.

An ``EvalProtocol`` fixes everything that changes a number: dataset, split, GT variant, crop, depth
caps, how the prediction is resized to the GT resolution, alignment, averaging, flip test-time
augmentation, clamping, metric families and version. Its ``hash`` (sha256 of the canonical JSON of
those fields) is stored with every result, so two results are comparable iff their hashes match.

A dataset's default protocol is its manifest's ``eval`` block; a ``Benchmark`` (YAML under
``loaders/benchmarks/``) is a named, versioned list of protocols with per-dataset overrides and a
headline metric each.
"""

from __future__ import annotations

import functools
import hashlib
import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from depthbench.catalog import (
    AlignmentName,
    Averaging,
    ResizeMode,
    catalog_dir,
    get_manifest,
    read_yaml,
    validation_message,
)
from depthbench.crops import CROP_NAMES
from depthbench.errors import ConfigError, UsageError
from depthbench.registry import Registry

PROTOCOL_SCHEMA_VERSION = 1


class EvalProtocol(BaseModel):
    """Everything that defines how a number is computed (see module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    split: str = "test"
    gt_variant: str | None = None
    crop: str = "none"
    min_depth: float = 1e-3
    max_depth: float = 10.0
    resize: ResizeMode = "bilinear"
    alignment: AlignmentName = "auto"
    averaging: Averaging = "pooled"
    flip_tta: bool = False
    clamp_prediction: bool = True
    metrics: tuple[str, ...] = ("eigen",)
    headline: str = "delta1"
    version: int = PROTOCOL_SCHEMA_VERSION

    @field_validator("crop")
    @classmethod
    def _known_crop(cls, v: str) -> str:
        if v not in CROP_NAMES:
            raise ValueError(f"unknown crop {v!r}; expected one of {', '.join(CROP_NAMES)}")
        return v

    @field_validator("max_depth")
    @classmethod
    def _caps(cls, v: float, info: Any) -> float:
        if v <= info.data.get("min_depth", 0.0):
            raise ValueError("max_depth must be greater than min_depth")
        return v

    def canonical_json(self) -> str:
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @property
    def hash(self) -> str:
        """Stable sha256 of the protocol's fields (field order and formatting do not matter)."""
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()

    @property
    def protocol_id(self) -> str:
        return f"{self.dataset}:{self.split}:{self.hash[:12]}"

    def with_overrides(self, overrides: dict[str, Any]) -> EvalProtocol:
        """A copy with fields replaced (values validated); unknown fields are refused by name."""
        data = self.model_dump()
        for key, value in overrides.items():
            if key not in data:
                raise UsageError(f"protocol override {key!r}: unknown field; known: {', '.join(sorted(data))}")
            data[key] = value
        try:
            return EvalProtocol.model_validate(data)
        except ValidationError as exc:
            raise UsageError(validation_message("protocol override", exc)) from exc


def default_protocol(dataset: str, **overrides: Any) -> EvalProtocol:
    """The protocol in dataset ``dataset``'s manifest, with ``overrides`` applied."""
    manifest = get_manifest(dataset)
    data = manifest.eval.model_dump()
    data["dataset"] = manifest.name
    if data.get("gt_variant") is None:
        data["gt_variant"] = manifest.default_gt_variant
    protocol = EvalProtocol.model_validate(data)
    return protocol.with_overrides(overrides) if overrides else protocol


def parse_override(text: str) -> tuple[str, Any]:
    """``key=value`` (value parsed as YAML: numbers, booleans, lists) → (key, value)."""
    import yaml

    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageError(f"--protocol-override {text!r}: expected key=value")
    return key.strip(), yaml.safe_load(value)


class BenchmarkEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    overrides: dict[str, Any] = Field(default_factory=dict)
    headline: str | None = None


class Benchmark(BaseModel):
    """A named, versioned list of protocols evaluated together."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    version: int
    title: str
    description: str
    source: str = ""
    entries: list[BenchmarkEntry]

    def protocols(self) -> list[EvalProtocol]:
        out = []
        for entry in self.entries:
            overrides = dict(entry.overrides)
            if entry.headline:
                overrides["headline"] = entry.headline
            out.append(default_protocol(entry.dataset, **overrides))
        return out


@functools.lru_cache(maxsize=1)
def _benchmark_registry() -> Registry[Benchmark]:
    registry: Registry[Benchmark] = Registry("benchmark")
    folder = catalog_dir("loaders") / "benchmarks"
    for path in sorted(folder.glob("*.yaml")):
        try:
            bench = Benchmark.model_validate(read_yaml(path))
        except ValidationError as exc:
            raise ConfigError(validation_message(path, exc)) from exc
        if bench.name != path.stem:
            raise ConfigError(f"{path}: field 'name' is {bench.name!r}, expected the file name {path.stem!r}")
        registry.register(bench.name, bench)
    return registry


def list_benchmarks() -> list[str]:
    return _benchmark_registry().names()


def get_benchmark(name: str) -> Benchmark:
    return _benchmark_registry().get(name)
