"""Training checkpoints: safetensors + JSON only (never pickle), written atomically, resumed exactly.

A step checkpoint is a folder ``OUT/checkpoints/step-NNNNNNNN/`` holding
- ``model.safetensors`` + ``config.json``: ``depthbench.models.adapters.save_checkpoint_model``'s
  format (so ``--model ckpt:FOLDER`` evaluates it), the training config under ``"train_config"``;
- ``train_state.safetensors``: every tensor of the optimiser state (moments, step counts, Lookahead
  slow weights) and the torch RNG states;
- ``train_state.json``: the rest — optimiser structure with tensors replaced by ``{"__tensor__": key}``,
  step, epoch, numpy / Python RNG states, best validation value.
The folder is assembled under a temporary name and moved into place with ``os.replace``; then
``OUT/checkpoints/latest.json`` (written atomically) names it. ``export_best`` copies a model into
``OUT/best`` in the ``ckpt:`` format.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from depthbench.errors import DataError
from depthbench.models.adapters import save_checkpoint_model

STATE_TENSORS = "train_state.safetensors"
STATE_JSON = "train_state.json"
LATEST = "latest.json"


def unwrap(model: nn.Module) -> nn.Module:
    """The plain model inside DDP (``.module``) and torch.compile (``._orig_mod``) wrappers."""
    while True:
        if hasattr(model, "module") and isinstance(model.module, nn.Module):
            model = model.module
        elif hasattr(model, "_orig_mod"):
            model = model._orig_mod  # type: ignore[assignment]
        else:
            return model


def flatten(obj: Any, tensors: dict[str, torch.Tensor], prefix: str = "t") -> Any:
    """JSON-able structure of ``obj`` with tensors moved into ``tensors`` (dict keys and tuples kept)."""
    if isinstance(obj, torch.Tensor):
        key = f"{prefix}{len(tensors)}"
        tensors[key] = obj.detach().to("cpu").contiguous().clone()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[flatten(k, tensors), flatten(v, tensors)] for k, v in obj.items()]}
    if isinstance(obj, tuple):
        return {"__tuple__": [flatten(v, tensors) for v in obj]}
    if isinstance(obj, list):
        return [flatten(v, tensors) for v in obj]
    if isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    raise TypeError(f"cannot store {type(obj).__name__} in a training checkpoint")


def unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict):
        if "__tensor__" in obj:
            return tensors[obj["__tensor__"]]
        if "__tuple__" in obj:
            return tuple(unflatten(v, tensors) for v in obj["__tuple__"])
        return {unflatten(k, tensors): unflatten(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [unflatten(v, tensors) for v in obj]
    return obj


def rng_state() -> dict[str, Any]:
    np_state = np.random.get_state(legacy=False)
    numpy_state = {"key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)), "pos": int(np_state["state"]["pos"]),
                   "has_gauss": int(np_state["has_gauss"]), "gauss": float(np_state["gauss"])}
    state: dict[str, Any] = {"torch": torch.get_rng_state(), "numpy": numpy_state, "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    n = state["numpy"]
    np.random.set_state({"bit_generator": "MT19937", "state": {"key": n["key"].numpy().astype(np.uint32), "pos": n["pos"]},
                         "has_gauss": n["has_gauss"], "gauss": n["gauss"]})
    py = state["python"]
    random.setstate(py)
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))


def save_training_checkpoint(out_dir: str | Path, model: nn.Module, model_name: str, model_options: dict[str, Any],
                             optimizer: torch.optim.Optimizer, scaler: Any, step: int, epoch: int,
                             train_config: dict[str, Any], extra: dict[str, Any] | None = None) -> Path:
    """Write ``out_dir/checkpoints/step-{step:08d}`` atomically and point ``latest.json`` at it."""
    from safetensors.torch import save_file

    root = Path(out_dir) / "checkpoints"
    root.mkdir(parents=True, exist_ok=True)
    final = root / f"step-{step:08d}"
    tmp = Path(tempfile.mkdtemp(dir=root, prefix=".tmp-step-"))
    try:
        save_checkpoint_model(unwrap(model), model_name, model_options, tmp,
                              extra_config={"train_config": train_config, "step": step})
        tensors: dict[str, torch.Tensor] = {}
        state = {
            "step": step,
            "epoch": epoch,
            "optimizer": flatten(optimizer.state_dict(), tensors, "opt"),
            "scaler": flatten(scaler.state_dict(), tensors, "scaler") if scaler is not None else None,
            "rng": flatten(rng_state(), tensors, "rng"),
            "extra": extra or {},
        }
        save_file(tensors, str(tmp / STATE_TENSORS))
        (tmp / STATE_JSON).write_text(json.dumps(state) + "\n", encoding="utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    pointer = root / f".{LATEST}.tmp"
    pointer.write_text(json.dumps({"checkpoint": final.name, "step": step}) + "\n", encoding="utf-8")
    os.replace(pointer, root / LATEST)
    return final


def latest_checkpoint(out_dir: str | Path) -> Path | None:
    """The folder named by ``out_dir/checkpoints/latest.json``, or None when there is none."""
    pointer = Path(out_dir) / "checkpoints" / LATEST
    if not pointer.is_file():
        return None
    folder = pointer.parent / json.loads(pointer.read_text(encoding="utf-8"))["checkpoint"]
    if not (folder / STATE_JSON).is_file():
        raise DataError(f"{pointer}: names {folder}, which is not a complete training checkpoint")
    return folder


def load_training_checkpoint(folder: str | Path, model: nn.Module, optimizer: torch.optim.Optimizer,
                             scaler: Any = None, restore_rng: bool = True) -> dict[str, Any]:
    """Load weights, optimiser, scaler and RNG state from ``folder``; returns the JSON state (step, epoch, extra)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    for name in ("model.safetensors", STATE_TENSORS, STATE_JSON):
        if not (folder / name).is_file():
            raise DataError(f"--resume {folder}: {name} missing (not a depthbench training checkpoint)")
    unwrap(model).load_state_dict(load_file(str(folder / "model.safetensors")), strict=True)
    tensors = load_file(str(folder / STATE_TENSORS))
    state = json.loads((folder / STATE_JSON).read_text(encoding="utf-8"))
    opt_state = unflatten(state["optimizer"], tensors)
    optimizer.load_state_dict(opt_state)
    if scaler is not None and state.get("scaler") is not None:
        scaler.load_state_dict(unflatten(state["scaler"], tensors))
    if restore_rng:
        set_rng_state(unflatten(state["rng"], tensors))
    return state


def export_best(out_dir: str | Path, model: nn.Module, model_name: str, model_options: dict[str, Any],
                extra: dict[str, Any]) -> Path:
    """Write the model to ``out_dir/best`` (``ckpt:`` format, atomic per file)."""
    return save_checkpoint_model(unwrap(model), model_name, model_options, Path(out_dir) / "best", extra_config=extra)


def export_model(src: str | Path, dst: str | Path, half: bool = True, extra: dict[str, Any] | None = None) -> Path:
    """Copy the ``ckpt:`` model in ``src`` to ``dst``, floating tensors stored as fp16 when ``half``
    (``load_checkpoint_model`` copies them into the fp32 parameters on load). ``extra`` joins the
    config (e.g. how the model was trained); the source's training config is kept."""
    from depthbench.models import list_models
    from depthbench.models.adapters import load_checkpoint_model, read_checkpoint_config

    list_models()  # load_checkpoint_model checks the registry, which fills on discovery
    config = read_checkpoint_config(src)
    model = load_checkpoint_model(src)
    if half:
        model = model.half()
    reserved = {"format", "version", "model", "options", "weights_sha256"}
    kept = {k: v for k, v in config.items() if k not in reserved}
    kept.update(extra or {})
    if half:
        kept["stored_dtype"] = "float16"
    return save_checkpoint_model(model, config["model"], config.get("options", {}), dst, extra_config=kept)
