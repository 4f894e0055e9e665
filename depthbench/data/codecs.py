"""Lossless image codecs of the prepared format: RGB as PNG (or the source's own encoded bytes,
never re-encoded), integer-native depth as 16-bit grayscale PNG, masks as 1-bit PNG."""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from PIL import Image

from depthbench.errors import DataError


def encode_png(array: np.ndarray) -> bytes:
    """uint8 H×W×3, uint16 H×W, or bool H×W → PNG bytes (lossless)."""
    if array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3:
        image = Image.fromarray(np.ascontiguousarray(array), mode="RGB")
    elif array.dtype == np.uint16 and array.ndim == 2:
        image = Image.fromarray(np.ascontiguousarray(array))  # mode I;16
    elif array.dtype == bool and array.ndim == 2:
        image = Image.fromarray(np.ascontiguousarray(array)).convert("1")
    else:
        raise ValueError(f"cannot encode array of dtype {array.dtype} and shape {array.shape} as PNG")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def decode_image(data: bytes, what: str) -> np.ndarray:
    """Encoded bytes → numpy array (RGB uint8, uint16 depth or bool mask)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.mode in ("I;16", "I;16B", "I;16L"):
                return np.array(image, dtype=np.uint16)
            if image.mode == "I":  # some writers store 16-bit PNG as 32-bit int mode
                return np.array(image).astype(np.uint16)
            if image.mode == "1":
                return np.array(image, dtype=bool)
            return np.array(image.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError) as exc:
        raise DataError(f"{what}: cannot decode image bytes ({exc})") from exc


def quantize_depth(depth: np.ndarray, scale: float, what: str) -> np.ndarray:
    """Metres → uint16 = round(depth·scale); 0 stays invalid. Refuses values that do not fit."""
    finite = np.where(np.isfinite(depth), depth, 0.0)
    values = np.rint(finite * scale)
    if values.max(initial=0) > 65535 or values.min(initial=0) < 0:
        raise DataError(f"{what}: depth outside [0, {65535 / scale:.3f}] m cannot be stored as 16-bit PNG ×{scale}")
    return values.astype(np.uint16)


def json_dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
