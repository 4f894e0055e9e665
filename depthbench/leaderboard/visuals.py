"""Qualitative visualisations of one evaluated sample, as PNG files (``evaluate --save-visuals``).

Per sample, in ``<out_dir>/<sample_id>/``:

- ``rgb.png``: the input image;
- ``gt.png`` / ``pred.png``: depth colour-mapped over the same range [min, max] of the valid GT
  (so colours compare between the two), invalid GT pixels black;
- ``error.png``: absolute relative error |p − g| / g on the protocol's mask, mapped over [0, 0.5]
  (≥ 0.5 saturates), pixels outside the mask black;
- ``edges_gt.png`` / ``edges_pred.png``: Sobel gradient magnitude of the depth (metres) thresholded
  at 0.5, the edge definition of DenseDepth's quality measures (Alhashim & Wonka 2018, §4.3;
  DESIGN.md §4); white = edge;
- ``normals_gt.png`` / ``normals_pred.png``: surface normals from depth, n = ∂P/∂u × ∂P/∂v with
  P(u, v) = z·((u − cx)/fx, (v − cy)/fy, 1) (central differences), shown as RGB = (n + 1) / 2. With
  no intrinsics a pinhole with fx = fy = max(H, W) at the image centre is assumed (display only).

The colour map is depthbench's own: piecewise-linear through eight hand-picked anchors from dark
blue through teal and green to yellow (monotone in lightness), so no plotting library is needed.
``visuals.json`` in ``out_dir`` indexes the samples (written by ``write_visuals_index``).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from depthbench.types import Sample

VISUAL_KINDS = ("rgb", "gt", "pred", "error", "edges_gt", "edges_pred", "normals_gt", "normals_pred")
ERROR_RANGE = 0.5
EDGE_THRESHOLD = 0.5

# Anchors (position, R, G, B) of the depthbench colour map; lightness increases monotonically.
_ANCHORS = np.array(
    [
        [0.000, 20, 12, 60],
        [0.143, 40, 40, 120],
        [0.286, 38, 84, 150],
        [0.429, 30, 124, 150],
        [0.571, 40, 160, 130],
        [0.714, 110, 190, 90],
        [0.857, 190, 215, 60],
        [1.000, 250, 235, 70],
    ],
    dtype=np.float64,
)


def colormap(t: np.ndarray) -> np.ndarray:
    """Values in [0, 1] (clipped) → uint8 RGB by linear interpolation between the anchors."""
    t = np.clip(np.nan_to_num(np.asarray(t, dtype=np.float64), nan=0.0), 0.0, 1.0)
    rgb = np.stack([np.interp(t, _ANCHORS[:, 0], _ANCHORS[:, k]) for k in (1, 2, 3)], axis=-1)
    return np.round(rgb).astype(np.uint8)


def colorize(values: np.ndarray, lo: float, hi: float, valid: np.ndarray | None = None) -> np.ndarray:
    """Map ``values`` linearly from [lo, hi] to the colour map; pixels not ``valid`` are black."""
    span = hi - lo if hi > lo else 1.0
    rgb = colormap((np.asarray(values, dtype=np.float64) - lo) / span)
    if valid is not None:
        rgb[~np.asarray(valid, dtype=bool)] = 0
    return rgb


def sobel_magnitude(depth: np.ndarray) -> np.ndarray:
    """|∇d| with the 3×3 Sobel kernels (edge-replicated border): sqrt(Gx² + Gy²)."""
    d = np.pad(np.asarray(depth, dtype=np.float64), 1, mode="edge")
    gx = (d[:-2, 2:] + 2 * d[1:-1, 2:] + d[2:, 2:]) - (d[:-2, :-2] + 2 * d[1:-1, :-2] + d[2:, :-2])
    gy = (d[2:, :-2] + 2 * d[2:, 1:-1] + d[2:, 2:]) - (d[:-2, :-2] + 2 * d[:-2, 1:-1] + d[:-2, 2:])
    return np.sqrt(gx * gx + gy * gy)


def edge_map(depth: np.ndarray, valid: np.ndarray | None = None, threshold: float = EDGE_THRESHOLD) -> np.ndarray:
    """Binary edges (Sobel magnitude > threshold) as a uint8 gray image (255 = edge)."""
    edges = sobel_magnitude(depth) > threshold
    if valid is not None:
        edges &= np.asarray(valid, dtype=bool)
    return np.where(edges, 255, 0).astype(np.uint8)


def normal_map(depth: np.ndarray, intrinsics: Any = None) -> np.ndarray:
    """Unit normals H×W×3 from camera-z depth (see module docstring), facing the camera (n·P ≤ 0)."""
    z = np.asarray(depth, dtype=np.float64)
    h, w = z.shape
    if intrinsics is None:
        fx = fy = float(max(h, w))
        cx, cy = w / 2.0, h / 2.0
    else:
        fx, fy, cx, cy = intrinsics.fx, intrinsics.fy, intrinsics.cx, intrinsics.cy
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    points = np.stack([(u - cx) * z / fx, (v - cy) * z / fy, z], axis=-1)
    du = np.gradient(points, axis=1)
    dv = np.gradient(points, axis=0)
    n = np.cross(du, dv)
    norm = np.linalg.norm(n, axis=-1, keepdims=True)
    n = np.divide(n, norm, out=np.zeros_like(n), where=norm > 0)
    flip = (n * points).sum(axis=-1, keepdims=True) > 0
    return np.where(flip, -n, n)


def normals_image(normals: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    rgb = np.round((normals + 1.0) * 127.5).clip(0, 255).astype(np.uint8)
    if valid is not None:
        rgb[~np.asarray(valid, dtype=bool)] = 0
    return rgb


def _safe(sample_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", sample_id).strip("_") or "sample"


def _write_png(path: Path, array: np.ndarray) -> None:
    temp = path.with_name("." + path.name + ".tmp")
    Image.fromarray(array).save(temp, format="PNG", optimize=True)
    os.replace(temp, path)


def _numpy(x: Any) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def save_visuals(
    out_dir: str | Path,
    sample: Sample,
    pred_depth: Any,
    gt_depth: Any,
    mask: Any,
    max_depth: float,
) -> dict[str, str]:
    """Write the PNGs of one sample (module docstring) to ``out_dir/<sample_id>/``.

    ``pred_depth``: aligned prediction in metres (H×W, numpy or torch); ``gt_depth``: ground truth
    (0 where invalid); ``mask``: the protocol's valid mask; ``max_depth``: the protocol's cap (the
    colour range is clipped to it). Returns kind → path relative to ``out_dir``.
    """
    pred = _numpy(pred_depth).astype(np.float64)
    gt = np.nan_to_num(_numpy(gt_depth).astype(np.float64), nan=0.0)
    valid = _numpy(mask).astype(bool)
    gt_valid = (gt > 0) & np.isfinite(gt)
    if sample.valid is not None:
        gt_valid &= sample.valid
    folder = Path(out_dir) / _safe(sample.meta.sample_id)
    folder.mkdir(parents=True, exist_ok=True)
    ref = gt[gt_valid] if gt_valid.any() else pred.ravel()
    lo, hi = float(ref.min()), min(float(ref.max()), float(max_depth))
    rel_err = np.divide(np.abs(pred - gt), gt, out=np.zeros_like(gt), where=gt > 0)
    images = {
        "rgb": np.ascontiguousarray(sample.image),
        "gt": colorize(gt, lo, hi, gt_valid),
        "pred": colorize(pred, lo, hi),
        "error": colorize(rel_err, 0.0, ERROR_RANGE, valid),
        "edges_gt": edge_map(gt, gt_valid),
        "edges_pred": edge_map(pred),
        "normals_gt": normals_image(normal_map(gt, sample.intrinsics), gt_valid),
        "normals_pred": normals_image(normal_map(pred, sample.intrinsics)),
    }
    written: dict[str, str] = {}
    for kind in VISUAL_KINDS:
        path = folder / f"{kind}.png"
        _write_png(path, images[kind])
        written[kind] = f"{folder.name}/{path.name}"
    return written


def write_visuals_index(out_dir: str | Path, entries: list[dict[str, Any]], record: dict[str, Any]) -> Path:
    """Write ``visuals.json``: ``record`` (model, dataset, protocol hash...) and the sample entries
    (each ``{"sample_id": ..., "files": {kind: relative path}}``)."""
    path = Path(out_dir) / "visuals.json"
    payload = dict(record)
    payload["kinds"] = list(VISUAL_KINDS)
    payload["samples"] = entries
    temp = path.with_name("." + path.name + ".tmp")
    temp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(temp, path)
    return path
