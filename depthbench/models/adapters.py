"""Adapters: models that are not defined in depthbench but can be evaluated by it.

- ``load_hf_model(spec)``: a transformers depth-estimation checkpoint (``AutoModelForDepthEstimation`` +
  ``AutoImageProcessor``), from a local folder or a Hub repo id (``create_model("hf:<spec>")``).
  transformers is imported only here, on first use. The output kind comes from ``HF_OUTPUT_KINDS``
  (keyed by ``config.model_type``) unless ``kind=`` overrides it; an unknown family without ``kind=``
  is an error, never a guess.
- ``load_checkpoint_model(folder)`` / ``save_checkpoint_model(...)``: depthbench's own checkpoint
  format, a folder holding ``model.safetensors`` (the state dict; never pickle) and ``config.json``
  ``{"format": "depthbench-checkpoint", "version": 1, "model": <registered name>, "options": {...},
  "weights_sha256": <hex>, ...extra}`` (``create_model("ckpt:<folder>")``). Loading rebuilds the model
  with ``create_model(model, **options)`` and loads the tensors strictly; the recorded checksum
  guards against a weights file that does not belong to the config.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from depthbench.errors import DataError, UsageError
from depthbench.models.base import ModelInfo
from depthbench.types import DepthKind, Prediction

CHECKPOINT_FORMAT = "depthbench-checkpoint"
CHECKPOINT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"

# transformers ``config.model_type`` → what ``predicted_depth`` means.
# DPT (MiDaS-trained, e.g. Intel/dpt-large) and Depth Anything (relative) predict affine-invariant
# inverse depth (UTSS); ZoeDepth, GLPN and Depth Pro predict metres. Depth Anything checkpoints with
# ``config.depth_estimation_type == "metric"`` (the V2 metric models) are metric (see ``hf_output_kind``).
# DPT models fine-tuned for metric depth (e.g. on NYU/KITTI) need ``kind="metric"``.
HF_OUTPUT_KINDS: dict[str, DepthKind] = {
    "dpt": DepthKind.UTSS,
    "depth_anything": DepthKind.UTSS,
    "zoedepth": DepthKind.METRIC,
    "glpn": DepthKind.METRIC,
    "depth_pro": DepthKind.METRIC,
}


def hf_output_kind(config: Any, spec: str) -> DepthKind:
    """The declared kind of a transformers depth model from its config (see ``HF_OUTPUT_KINDS``)."""
    model_type = getattr(config, "model_type", None)
    if model_type == "depth_anything" and getattr(config, "depth_estimation_type", "relative") == "metric":
        return DepthKind.METRIC
    if model_type not in HF_OUTPUT_KINDS:
        known = ", ".join(sorted(HF_OUTPUT_KINDS))
        raise UsageError(
            f"hf:{spec}: unknown depth model family {model_type!r} (known: {known}); pass kind='metric'|'utss'|... explicitly"
        )
    return HF_OUTPUT_KINDS[model_type]


class HFDepthModel(nn.Module):
    """A transformers depth-estimation model behind the ``DepthModel`` interface.

    ``predict`` runs the checkpoint's own image processor (resize, normalisation, padding) on the
    [0, 1] batch and returns ``predicted_depth`` at the network's resolution, so that the protocol's
    own resize rule (bilinear, recorded in the protocol hash) brings it to the GT resolution — the
    processors' post-processing would resize bicubically behind the protocol's back. Processors
    that pad the input (ZoeDepth) get their padding removed by their post-processing with
    ``target_sizes=None`` (no resize).
    """

    def __init__(self, model: nn.Module, processor: Any, info: ModelInfo) -> None:
        super().__init__()
        self.model = model
        self.processor = processor
        self.info = info

    @torch.no_grad()
    def predict(self, images: torch.Tensor) -> Prediction:
        if images.ndim != 4 or images.shape[1] != 3:
            raise UsageError(f"{self.info.name}: images must be B×3×H×W, got {tuple(images.shape)}")
        height, width = (int(s) for s in images.shape[-2:])
        device = next(self.model.parameters()).device
        inputs = self.processor(
            images=[img.float().cpu() for img in images], return_tensors="pt", do_rescale=False
        )
        dtype = next(self.model.parameters()).dtype
        inputs = {
            k: (v.to(device=device, dtype=dtype) if v.is_floating_point() else v.to(device))
            for k, v in inputs.items()
        }
        outputs = self.model(**inputs)
        depth = outputs.predicted_depth
        if depth.ndim == 4:
            depth = depth[:, 0]
        post = getattr(self.processor, "post_process_depth_estimation", None)
        if post is not None and "source_sizes" in inspect.signature(post).parameters:
            results = post(outputs, source_sizes=[(height, width)] * images.shape[0], target_sizes=None)
            depth = torch.stack([r["predicted_depth"] for r in results])
        return Prediction(depth=depth.float(), kind=self.info.output_kind)


def load_hf_model(
    spec: str, kind: str | DepthKind | None = None, device: str | torch.device = "cpu", **opts: Any
) -> HFDepthModel:
    """Load ``spec`` (local folder or Hub repo id) with AutoModelForDepthEstimation/AutoImageProcessor.

    ``kind`` overrides the family's declared output kind; other options (``revision``,
    ``torch_dtype``, ``local_files_only`` ...) go to ``from_pretrained``.
    """
    try:
        from transformers import AutoImageProcessor, AutoModelForDepthEstimation
    except ImportError as exc:
        raise UsageError(f"hf:{spec}: needs the 'transformers' package (pip install depthbench[hf])") from exc
    try:
        model = AutoModelForDepthEstimation.from_pretrained(spec, **opts)
        processor = AutoImageProcessor.from_pretrained(
            spec, **{k: v for k, v in opts.items() if k in ("revision", "local_files_only")}
        )
    except (OSError, ValueError) as exc:
        raise UsageError(
            f"hf:{spec}: cannot load a depth-estimation model and image processor ({exc})"
        ) from exc
    try:
        output_kind = DepthKind(kind) if kind is not None else hf_output_kind(model.config, spec)
    except ValueError as exc:
        raise UsageError(f"hf:{spec}: kind={kind!r} is not one of {[k.value for k in DepthKind]}") from exc
    model.eval().to(device)
    info = ModelInfo(
        name=f"hf:{spec}",
        output_kind=output_kind,
        input_size=None,
        size_divisor=1,
        paper="",
        extra={"model_type": getattr(model.config, "model_type", ""), "source": spec},
    )
    return HFDepthModel(model, processor, info)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _atomic_temp(folder: Path, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=suffix)
    os.close(fd)
    os.chmod(name, 0o644)  # mkstemp creates 0600; published checkpoints are ordinary readable files
    return Path(name)


def save_checkpoint_model(
    model: nn.Module,
    name: str,
    options: dict[str, Any],
    folder: str | os.PathLike[str],
    extra_config: dict[str, Any] | None = None,
) -> Path:
    """Write ``folder/model.safetensors`` and ``folder/config.json`` so that
    ``create_model("ckpt:folder")`` rebuilds ``create_model(name, **options)`` with these weights.

    Each file is written to a temporary file in ``folder`` and moved into place with ``os.replace``;
    the config (written last) records the weights' SHA-256, so a crash between the two moves is
    detected on load. ``options`` and ``extra_config`` must be JSON-serialisable.
    """
    from safetensors.torch import save_file

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    reserved = {"format", "version", "model", "options", "weights_sha256"}
    extra = dict(extra_config or {})
    if reserved & extra.keys():
        raise UsageError(f"save_checkpoint_model: extra_config may not set {sorted(reserved & extra.keys())}")
    config = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model": name,
        "options": dict(options),
        **extra,
    }
    try:
        json.dumps(config)
    except TypeError as exc:
        raise UsageError(
            f"save_checkpoint_model: options/extra_config must be JSON-serialisable ({exc})"
        ) from exc

    # clone: safetensors refuses tensors that share storage
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in model.state_dict().items()}
    weights_tmp = _atomic_temp(out, ".safetensors")
    config_tmp = _atomic_temp(out, ".json")
    try:
        save_file(tensors, str(weights_tmp), metadata={"format": "pt", "model": name})
        config["weights_sha256"] = _sha256(weights_tmp)
        config_tmp.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(weights_tmp, out / WEIGHTS_FILE)
        os.replace(config_tmp, out / CONFIG_FILE)
    finally:
        for tmp in (weights_tmp, config_tmp):
            tmp.unlink(missing_ok=True)
    return out


def read_checkpoint_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and validate ``folder/config.json`` (DataError naming the file when it is not one)."""
    path = Path(folder) / CONFIG_FILE
    if not path.is_file():
        raise DataError(
            f"ckpt:{folder}: {path} not found (a depthbench checkpoint folder holds {WEIGHTS_FILE} + {CONFIG_FILE})"
        )
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not valid JSON ({exc})") from exc
    if not isinstance(config, dict) or config.get("format") != CHECKPOINT_FORMAT:
        raise DataError(f"{path}: expected a JSON object with format={CHECKPOINT_FORMAT!r}")
    if config.get("version") != CHECKPOINT_VERSION:
        raise DataError(
            f"{path}: unsupported checkpoint version {config.get('version')!r} (expected {CHECKPOINT_VERSION})"
        )
    if not isinstance(config.get("model"), str) or not isinstance(config.get("options", {}), dict):
        raise DataError(f"{path}: expected 'model' (a registered model name) and 'options' (an object)")
    return config


def load_checkpoint_model(
    folder: str | os.PathLike[str], device: str | torch.device = "cpu", **opts: Any
) -> nn.Module:
    """Rebuild a model saved by ``save_checkpoint_model``: ``create_model(config.model, **options)``
    (``opts`` override the saved options), then a strict ``load_state_dict`` from safetensors."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from depthbench.models import MODELS, create_model, list_models

    config = read_checkpoint_config(folder)
    name = config["model"]
    list_models()  # discover every model module before looking the name up
    if name not in MODELS:
        raise DataError(
            f"ckpt:{folder}: model {name!r} in {CONFIG_FILE} is not a registered depthbench model"
        )
    weights = Path(folder) / WEIGHTS_FILE
    if not weights.is_file():
        raise DataError(f"ckpt:{folder}: {weights} not found")
    expected = config.get("weights_sha256")
    if expected is not None and _sha256(weights) != expected:
        raise DataError(
            f"ckpt:{folder}: {weights} does not match the weights_sha256 recorded in {CONFIG_FILE}"
        )
    options = {**config.get("options", {}), **opts}
    model = create_model(name, **options)
    if not isinstance(model, nn.Module):
        raise DataError(f"ckpt:{folder}: model {name!r} is not a torch module and has no weights to load")
    try:
        state = load_file(str(weights), device="cpu")
    except (SafetensorError, OSError) as exc:
        raise DataError(f"{weights}: not a readable safetensors file ({exc})") from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise DataError(
            f"{weights}: weights do not fit model {name!r} with options {options} ({exc})"
        ) from exc
    return model.to(device).eval()
