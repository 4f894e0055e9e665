"""Loss registry.

Every module in this package registers its losses in ``LOSSES`` at import time; the package is
scanned on first use (``get_loss`` / ``list_losses``), exactly as ``depthbench.models`` does, so adding
a loss touches one file. A loss is a callable ``loss(pred, target, mask, **options) -> scalar tensor``
on B×H×W tensors; what ``pred`` and ``target`` mean (log depth, m/depth, disparity ...) is stated in
each loss's docstring.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

import torch

from depthbench.registry import Registry

LossFn = Callable[..., torch.Tensor]
LOSSES: Registry[LossFn] = Registry("loss")
_discovered = False

__all__ = ["LOSSES", "LossFn", "get_loss", "list_losses", "register_loss"]


def register_loss(name: str, aliases: tuple[str, ...] = ()) -> Callable[[LossFn], LossFn]:
    """Decorator registering a loss function under ``name``."""
    return LOSSES.register(name, aliases=aliases)


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    _discovered = True
    for module in pkgutil.iter_modules(__path__):
        if not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


def list_losses() -> list[str]:
    _discover()
    return LOSSES.names()


def get_loss(name: str) -> LossFn:
    """The loss registered under ``name`` (raises ``UnknownNameError`` with a suggestion)."""
    _discover()
    return LOSSES.get(name)
