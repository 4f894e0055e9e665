"""The declared-data catalog: dataset manifests (``loaders/*.yaml``), preparation recipes
(``preprocess/*.yaml``), benchmark suites (``loaders/benchmarks/*.yaml``) and result files
(``leaderboard/results``), validated by pydantic models with ``extra="forbid"``.

In a checkout these folders sit at the repository root; in an installed wheel the build backend maps
them to ``depthbench/_catalog/`` (pyproject ``force-include``). ``catalog_dir`` finds either.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from depthbench.crops import CROP_NAMES
from depthbench.errors import ConfigError, UnknownNameError
from depthbench.registry import Registry
from depthbench.types import DepthKind, Intrinsics

_PACKAGE_DIR = Path(__file__).resolve().parent

AlignmentName = Literal[
    "auto", "none", "median", "lsq_scale", "lsq_scale_shift", "lsq_scale_shift_disparity", "uts_log"
]
Averaging = Literal["pooled", "per_image"]
ResizeMode = Literal["bilinear", "nearest", "bicubic", "none"]


def catalog_dir(kind: Literal["loaders", "preprocess", "results"]) -> Path:
    """Folder of declared data of ``kind``: installed copy first, then the checkout's."""
    relative = {"loaders": "loaders", "preprocess": "preprocess", "results": "leaderboard/results"}[kind]
    override = os.environ.get("DEPTHBENCH_CATALOG")
    candidates = [Path(override) / relative] if override else []
    candidates += [_PACKAGE_DIR / "_catalog" / relative, _PACKAGE_DIR.parent / relative]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate
    raise ConfigError(f"catalog folder {relative!r} not found (looked in: {', '.join(map(str, candidates))})")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceFile(_Strict):
    """One official raw file: where it comes from and its checksum (None when the host changes it)."""

    url: str
    filename: str
    sha256: str | None = None
    size_bytes: int | None = None


class SourceSpec(_Strict):
    homepage: str
    files: list[SourceFile] = Field(default_factory=list)
    instructions: str = Field(description="where the raw files come from and how to lay them out")


class DepthStorage(_Strict):
    """How depth is stored in the prepared parquet (DESIGN.md §3)."""

    storage: Literal["png16", "f32", "none"]
    scale: float | None = Field(default=None, description="png16: metres = value / scale")
    units: Literal["m", "1/m", "relative", "relative_inverse", "none"] = "m"

    @field_validator("scale")
    @classmethod
    def _positive(cls, v: float | None) -> float | None:
        if v is not None and v <= 0:
            raise ValueError("scale must be positive")
        return v


class SplitSpec(_Strict):
    count: int | None = Field(default=None, description="number of frames in the official split")
    list_file: str | None = Field(default=None, description="path under loaders/splits/, if shipped")
    description: str = ""


class IntrinsicsSpec(_Strict):
    fx: float
    fy: float
    cx: float
    cy: float

    def to_intrinsics(self) -> Intrinsics:
        return Intrinsics(self.fx, self.fy, self.cx, self.cy)


class ProtocolFields(_Strict):
    """The fields of an evaluation protocol that a dataset manifest's ``eval`` block sets; the
    one declaration shared by manifests and ``protocol.EvalProtocol`` (which adds dataset and
    version). See ``EvalProtocol`` for what each field means."""

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


class DatasetStats(_Strict):
    train_median_depth: float | None = Field(default=None, description="median valid depth of the train split (m)")


class DatasetManifest(_Strict):
    """One dataset: provenance, storage, splits and how it is evaluated."""

    name: str
    title: str
    description: str
    citation: str
    license: str
    source: SourceSpec
    reader: str = Field(description="registered preparer that turns the raw files into prepared parquet")
    kind: DepthKind
    depth: DepthStorage
    intrinsics: IntrinsicsSpec | None = None
    image_hw: tuple[int, int] | None = None
    splits: dict[str, SplitSpec]
    gt_variants: dict[str, str] = Field(default_factory=lambda: {"default": "the dataset's ground truth"})
    default_gt_variant: str = "default"
    eval: ProtocolFields = Field(default_factory=ProtocolFields)
    stats: DatasetStats = Field(default_factory=DatasetStats)
    needs_source: bool = Field(default=True, description="False for generated data: prepare takes no --source")
    auto_prepare: bool = Field(
        default=False, description="built-in data generated on first use; its preparer takes splits=[...]"
    )
    aliases: list[str] = Field(default_factory=list)
    hub_repo: str | None = Field(
        default=None, description="default Hugging Face Hub dataset repo (ORG/NAME) of the prepared data"
    )

    @field_validator("default_gt_variant")
    @classmethod
    def _variant_known(cls, v: str, info: Any) -> str:
        variants = info.data.get("gt_variants") or {}
        if variants and v not in variants:
            raise ValueError(f"default_gt_variant {v!r} not in gt_variants {sorted(variants)}")
        return v


def read_yaml(path: Path) -> Any:
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: file not found") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({str(exc).splitlines()[0]})") from exc


def validation_message(path: Path | str, exc: ValidationError) -> str:
    """First pydantic error as one line: file, field path, problem."""
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "<root>"
    return f"{path}: field {where!r}: {err['msg']}"


def load_manifest(path: Path) -> DatasetManifest:
    data = read_yaml(path)
    try:
        manifest = DatasetManifest.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(validation_message(path, exc)) from exc
    if manifest.name != path.stem:
        raise ConfigError(f"{path}: field 'name' is {manifest.name!r}, expected the file name {path.stem!r}")
    return manifest


@functools.lru_cache(maxsize=1)
def _dataset_registry() -> Registry[DatasetManifest]:
    registry: Registry[DatasetManifest] = Registry("dataset")
    for path in sorted(catalog_dir("loaders").glob("*.yaml")):
        manifest = load_manifest(path)
        registry.register(manifest.name, manifest, aliases=tuple(manifest.aliases))
    return registry


def list_datasets() -> list[str]:
    """Names of every dataset in the catalog."""
    return _dataset_registry().names()


def get_manifest(name: str) -> DatasetManifest:
    """The validated manifest of dataset ``name`` (or alias); unknown names get a suggestion."""
    try:
        return _dataset_registry().get(name)
    except UnknownNameError:
        raise


def default_data_root(name: str) -> Path:
    """Cache folder of a prepared dataset: $DEPTHBENCH_HOME/datasets/NAME (default ~/.cache/depthbench)."""
    home = Path(os.environ.get("DEPTHBENCH_HOME", Path.home() / ".cache" / "depthbench"))
    return home / "datasets" / get_manifest(name).name


def gt_split_name(manifest: DatasetManifest, split: str, gt_variant: str | None) -> str:
    """Prepared split holding ``split`` with GT variant ``gt_variant``: the split itself for the
    default variant, ``{split}_{variant}`` otherwise (e.g. ``test_raw`` for NYU's raw depths)."""
    variant = gt_variant or manifest.default_gt_variant
    if variant not in manifest.gt_variants:
        raise ConfigError(
            f"dataset {manifest.name!r} has no GT variant {variant!r} (variants: {', '.join(manifest.gt_variants)})"
        )
    return split if variant == manifest.default_gt_variant else f"{split}_{variant}"
