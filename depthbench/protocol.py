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

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from depthbench.catalog import ProtocolFields, catalog_dir, get_manifest, read_yaml, validation_message
from depthbench.errors import ConfigError, DepthbenchError, UsageError
from depthbench.registry import Registry

PROTOCOL_SCHEMA_VERSION = 1


class EvalProtocol(ProtocolFields):
    """Everything that defines how a number is computed (see module docstring): the dataset, the
    version, and the shared ``ProtocolFields`` — split, GT variant, crop, caps (``min_depth`` <
    g < ``max_depth``), prediction ``resize`` to the GT resolution, ``alignment`` (``auto``: by
    the model's declared kind), ``averaging`` (pooled / per_image), ``flip_tta``,
    ``clamp_prediction`` to the caps, metric families and the ``headline`` metric."""

    dataset: str
    version: int = PROTOCOL_SCHEMA_VERSION

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


def resolvable_benchmarks() -> dict[str, list[EvalProtocol]]:
    """Benchmark name → its protocols, for every benchmark whose datasets are all catalogued
    (others are skipped, e.g. while a dataset manifest is missing from an installed catalog)."""
    out: dict[str, list[EvalProtocol]] = {}
    try:
        names = list_benchmarks()
    except DepthbenchError:
        return out
    for name in names:
        try:
            out[name] = get_benchmark(name).protocols()
        except DepthbenchError:
            continue
    return out


def get_benchmark(name: str) -> Benchmark:
    return _benchmark_registry().get(name)
