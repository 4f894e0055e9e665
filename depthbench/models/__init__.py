"""Model registry and factory.

``create_model(name)`` understands:
- a registered name (``depthbench list models``), e.g. ``densedepth-densenet169``, ``constant``;
- ``hf:<repo-or-path>``: a transformers depth-estimation checkpoint (adapters.py);
- ``ckpt:<path>``: a depthbench checkpoint (safetensors + JSON config);
- ``package.module:callable``: any Python factory returning a ``DepthModel``.

Each file in this package registers its models with ``@register_model(...)``; the package is
scanned on first use, so adding a model touches one file.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import urllib.error
from collections.abc import Callable
from typing import Any

from depthbench.errors import DataError, UsageError
from depthbench.models.base import DepthModel, ModelInfo, TorchDepthModel
from depthbench.registry import Registry, resolve_import_path

MODELS: Registry[Callable[..., DepthModel]] = Registry("model")
_discovered = False

__all__ = ["MODELS", "DepthModel", "ModelInfo", "TorchDepthModel", "create_model", "list_models", "register_model"]


def register_model(name: str, aliases: tuple[str, ...] = ()) -> Callable[[Callable[..., DepthModel]], Callable[..., DepthModel]]:
    """Decorator registering a model factory (a class or function taking keyword options)."""
    return MODELS.register(name, aliases=aliases)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for module in pkgutil.iter_modules(__path__):
        if module.name not in ("base",) and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


def list_models() -> list[str]:
    _discover()
    return MODELS.names()


def create_model(name: str, **options: Any) -> DepthModel:
    """Build a model from a registered name, ``hf:``, ``ckpt:`` or ``module:callable`` spec."""
    _discover()
    if name.startswith("hf:"):
        from depthbench.models.adapters import load_hf_model

        return load_hf_model(name[3:], **options)
    if name.startswith("ckpt:"):
        from depthbench.models.adapters import load_checkpoint_model

        return load_checkpoint_model(name[5:], **options)
    if name not in MODELS and ":" in name:
        factory = resolve_import_path(name)
    else:
        factory = MODELS.get(name)
    try:
        inspect.signature(factory).bind(**options)
    except TypeError as exc:
        raise UsageError(f"model {name!r}: bad options {sorted(options)} ({exc})") from exc
    except ValueError:  # no introspectable signature (some builtins): let the call decide
        pass
    try:
        model = factory(**options)
    except (urllib.error.URLError, ConnectionError, TimeoutError) as exc:
        raise DataError(
            f"model {name!r}: could not download pretrained weights ({exc}); "
            "pass pretrained=false (e.g. --model-option pretrained=false) or pre-fill the torch/timm cache"
        ) from exc
    if not hasattr(model, "predict") or not hasattr(model, "info"):
        raise UsageError(f"model {name!r}: factory returned {type(model).__name__}, expected a DepthModel (info + predict)")
    return model
