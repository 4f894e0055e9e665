"""``depthbench prepare``: run a dataset's preparer with the options of its recipe.

A *preparer* turns a dataset's official raw files into the prepared parquet format. Preparers are
registered by name (the manifest's ``reader`` field) in modules under ``depthbench/data/readers/``,
which are discovered on first use, so a new file format touches one module. A *recipe*
(``preprocess/NAME.yaml``) holds the preparation options (strides, GT variants, sizes, seeds) as
data; command-line options override it.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from depthbench.catalog import DatasetManifest, catalog_dir, get_manifest, read_yaml, validation_message
from depthbench.errors import ConfigError, DataError, UsageError
from depthbench.registry import Registry


class Preparer(Protocol):
    def __call__(self, manifest: DatasetManifest, source: Path | None, out: Path, **options: Any) -> Path: ...


PREPARERS: Registry[Preparer] = Registry("preparer")
_discovered = False


def register_preparer(name: str) -> Callable[[Preparer], Preparer]:
    """Decorator: register a preparer under the name manifests use in their ``reader`` field."""
    return PREPARERS.register(name)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    import depthbench.data.readers as readers

    for module in pkgutil.iter_modules(readers.__path__):
        importlib.import_module(f"{readers.__name__}.{module.name}")


def get_preparer(name: str) -> Preparer:
    _discover()
    return PREPARERS.get(name)


class Recipe(BaseModel):
    """``preprocess/NAME.yaml``: which preparer runs, with which options."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    dataset: str
    description: str = ""
    options: dict[str, Any] = Field(default_factory=dict)


def load_recipe(name: str) -> Recipe | None:
    path = catalog_dir("preprocess") / f"{name}.yaml"
    if not path.exists():
        return None
    try:
        recipe = Recipe.model_validate(read_yaml(path))
    except ValidationError as exc:
        raise ConfigError(validation_message(path, exc)) from exc
    if recipe.dataset != name:
        raise ConfigError(f"{path}: field 'dataset' is {recipe.dataset!r}, expected {name!r}")
    return recipe


def check_options(preparer: Preparer, options: dict[str, Any], where: str) -> None:
    """Reject options the preparer does not take, naming them (one line)."""
    params = inspect.signature(preparer).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = {n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(f"{where}: unknown option(s) {', '.join(unknown)}; accepted: {', '.join(sorted(accepted)) or 'none'}")


def prepare_dataset(name: str, source: str | Path | None, out: str | Path, **overrides: Any) -> Path:
    """Prepare dataset ``name`` from raw files in ``source`` into ``out`` (prepared format)."""
    manifest = get_manifest(name)
    preparer = get_preparer(manifest.reader)
    recipe = load_recipe(manifest.name)
    options = {**(recipe.options if recipe else {}), **{k: v for k, v in overrides.items() if v is not None}}
    check_options(preparer, options, f"recipe of {manifest.name!r}")
    source_path = Path(source) if source is not None else None
    if source_path is not None and not source_path.exists():
        raise DataError(f"--source {source_path}: folder does not exist")
    if source_path is None and manifest.needs_source:
        raise UsageError(f"dataset {manifest.name!r} needs --source (raw files; see README 'Datasets')")
    return preparer(manifest, source_path, Path(out), **options)
