"""Small helpers that let every metric accept numpy arrays and torch tensors, single or batched."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np


def is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def as_batched(*arrays: Any, to: Literal["numpy", "torch"]) -> list[Any]:
    """Convert inputs to one array library and add a batch axis to H×W inputs; shapes must agree."""
    shapes = {tuple(a.shape) for a in arrays}
    if len(shapes) != 1:
        raise ValueError(f"inputs must have the same shape, got {sorted(shapes)}")
    out = []
    for a in arrays:
        if to == "numpy":
            a = a.detach().cpu().numpy() if is_torch(a) else np.asarray(a)
        else:
            import torch

            a = a if is_torch(a) else torch.from_numpy(np.ascontiguousarray(a))
        if a.ndim == 2:
            a = a[None]
        if a.ndim != 3:
            raise ValueError(f"expected H×W or B×H×W input, got shape {tuple(a.shape)}")
        out.append(a)
    if to == "torch":
        device = out[0].device
        out = [a.to(device) for a in out]
        out[-1] = out[-1].bool()
    return out


def default_mask(gt: Any) -> Any:
    """gt > 0 and finite."""
    if is_torch(gt):
        import torch

        return torch.isfinite(gt) & (gt > 0)
    gt = np.asarray(gt)
    return np.isfinite(gt) & (gt > 0)
