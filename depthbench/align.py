"""Per-image alignment of a prediction to the ground truth over the protocol's valid mask.

Modes (DESIGN.md §4); p is the prediction converted to depth (or kept as disparity for the
disparity mode), g the ground truth, sums over the valid mask of each image:

- ``none``: p unchanged.
- ``median``: p · median(g)/median(p) (Zhou et al. 2017 / monodepth2 "median scaling").
- ``lsq_scale``: s·p with s = Σpg / Σp² (least squares, no shift).
- ``lsq_scale_shift``: s·p + t minimising Σ(s·p + t − g)² in depth space.
- ``lsq_scale_shift_disparity``: fit s·d + t ≈ 1/g on disparity d (the prediction itself for
  disparity-like kinds, 1/p for depth-like kinds; Ranftl et al. 2020 MiDaS, Eq. 4 / DPT code),
  floor the aligned disparity at 1/max_depth, then invert to depth.
- ``uts_log``: p · exp(median(ln g − ln p)) — seed 004's alignment of up-to-scale depth: the
  log-depth shift that best matches in the L1 sense.

Degenerate cases are handled and reported per image in ``AlignInfo.status``: ``empty_mask`` (no
valid pixel: prediction returned unchanged, metrics skip the image), ``degenerate`` (constant or
non-positive prediction on the mask: for least-squares modes the fit falls back to the shift,
t = mean(target), s = 0; for median modes scale 1), ``negative_scale`` (the least-squares scale is
negative: the fit is kept, as MiDaS does, and the evaluator's clamp then bounds the depth).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

from depthbench.errors import UsageError
from depthbench.registry import Registry
from depthbench.types import DepthKind

AlignMode = Literal["none", "median", "lsq_scale", "lsq_scale_shift", "lsq_scale_shift_disparity", "uts_log"]
ALIGN_MODES: tuple[str, ...] = ("none", "median", "lsq_scale", "lsq_scale_shift", "lsq_scale_shift_disparity", "uts_log")
ALIGNERS: Registry[str] = Registry("alignment")
for _mode in ALIGN_MODES:
    ALIGNERS.register(_mode, _mode)

# What "auto" alignment means for each declared output kind (zero-shot protocol of seed 004/MiDaS).
AUTO_ALIGNMENT: dict[DepthKind, str] = {
    DepthKind.METRIC: "none",
    DepthKind.DISPARITY: "none",
    DepthKind.UTS: "median",
    DepthKind.UTSS: "lsq_scale_shift_disparity",
}


def resolve_alignment(mode: str, kind: DepthKind, gt_kind: DepthKind = DepthKind.METRIC) -> str:
    """``auto`` → the mode that matches the prediction's ``kind`` and the ground truth's
    ``gt_kind``; anything else is validated and returned.

    Metric GT: by prediction kind (``AUTO_ALIGNMENT``). Up-to-scale GT (UTS, e.g. MegaDepth): a
    metric or up-to-scale prediction still needs its scale fitted (median); disparity up to scale
    and shift keeps its affine fit. GT known only up to scale and shift in disparity (UTSS, e.g.
    ReDWeb) has no depth in metres to compare with: depth metrics are refused.
    """
    kind, gt_kind = DepthKind(kind), DepthKind(gt_kind)
    if gt_kind == DepthKind.UTSS:
        raise UsageError(
            "ground truth is inverse depth up to scale and shift (utss): depth metrics are undefined on it; "
            "use such datasets for training"
        )
    if mode == "auto":
        if kind not in AUTO_ALIGNMENT:
            raise UsageError(f"no automatic alignment for prediction kind {kind.value!r}")
        if gt_kind == DepthKind.UTS and kind != DepthKind.UTSS:
            return "median"
        return AUTO_ALIGNMENT[kind]
    return ALIGNERS.canonical(mode)


@dataclass
class AlignInfo:
    """Per-image fit: scale, shift (0 unless fitted) and status (see module docstring)."""

    scale: np.ndarray
    shift: np.ndarray
    status: list[str]


def _masked_median(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """numpy-style median (mean of the two middle values) of values[mask], per image."""
    if values.device.type == "cpu":  # numpy's introselect is O(n); torch.quantile sorts
        v, m = values.detach().numpy(), mask.detach().numpy()
        medians = [float(np.median(v[b][m[b]])) if m[b].any() else float("nan") for b in range(v.shape[0])]
        return torch.tensor(medians, dtype=torch.float64)
    out = torch.empty(values.shape[0], dtype=torch.float64, device=values.device)
    for b in range(values.shape[0]):
        selected = values[b][mask[b]].double()
        out[b] = torch.quantile(selected, 0.5) if selected.numel() else torch.nan
    return out


def align_with_info(
    pred: Any,
    gt: Any,
    mask: Any,
    mode: str = "median",
    kind: DepthKind | str = DepthKind.METRIC,
    max_depth: float | None = None,
) -> tuple[Any, AlignInfo]:
    """Align ``pred`` (values of ``kind``) to ``gt`` (metres) per image; return depth and the fits.

    Inputs: H×W or B×H×W numpy arrays or torch tensors (any device). The output has the input's
    type and shape and is depth in metres (disparity-like predictions are inverted).
    """
    kind = DepthKind(kind)
    mode = resolve_alignment(mode, kind)
    if mask is None:
        from depthbench.metrics.arrays import default_mask

        mask = default_mask(gt)
    is_numpy = not isinstance(pred, torch.Tensor)
    single = pred.ndim == 2
    p = torch.as_tensor(np.asarray(pred) if is_numpy else pred.detach())
    g = torch.as_tensor(np.asarray(gt) if is_numpy else gt).to(p.device)
    m = torch.as_tensor(np.asarray(mask) if is_numpy else mask).to(p.device).bool()
    if single:
        p, g, m = p[None], g[None], m[None]
    if p.shape != g.shape or p.shape != m.shape:
        raise UsageError(f"align: pred {tuple(p.shape)}, gt {tuple(g.shape)} and mask {tuple(m.shape)} must match")
    p = p.double()
    g = g.double()
    batch = p.shape[0]
    scale = torch.ones(batch, dtype=torch.float64, device=p.device)
    shift = torch.zeros(batch, dtype=torch.float64, device=p.device)
    status = ["ok"] * batch
    count = m.sum(dim=(1, 2))
    mf = m.double()

    def sums(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, ...]:
        xm, ym = x * mf, y * mf
        return (xm * x).sum((1, 2)), xm.sum((1, 2)), (xm * y).sum((1, 2)), ym.sum((1, 2))

    if mode == "lsq_scale_shift_disparity":
        disparity = p if kind.is_inverse else 1.0 / p.clamp_min(1e-12)
        target = torch.where(m, 1.0 / g.clamp_min(1e-12), torch.zeros_like(g))
        sxx, sx, sxy, sy = sums(disparity, target)
        det = count * sxx - sx * sx
        ok = det.abs() > 1e-12 * count.clamp_min(1) ** 2
        scale = torch.where(ok, (count * sxy - sx * sy) / torch.where(ok, det, 1.0), 0.0)
        shift = torch.where(ok, (sy - scale * sx) / count.clamp_min(1), sy / count.clamp_min(1))
        aligned_disp = scale.view(-1, 1, 1) * disparity + shift.view(-1, 1, 1)
        floor = 1.0 / max_depth if max_depth else 1e-8
        out = 1.0 / aligned_disp.clamp_min(floor)
        degenerate = ~ok
    else:
        depth = 1.0 / p.clamp_min(1e-12) if kind.is_inverse else p
        if mode == "none":
            out, degenerate = depth, torch.zeros(batch, dtype=torch.bool, device=p.device)
        elif mode in ("median", "uts_log"):
            if mode == "median":
                med_p, med_g = _masked_median(depth, m), _masked_median(g, m)
                degenerate = ~(med_p > 0)
                scale = torch.where(degenerate, 1.0, med_g / torch.where(degenerate, 1.0, med_p))
            else:
                positive = m & (depth > 0)
                log_ratio = torch.log(g.clamp_min(1e-12)) - torch.log(depth.clamp_min(1e-12))
                med = _masked_median(log_ratio, positive)
                degenerate = torch.isnan(med) & (count > 0)
                scale = torch.where(torch.isnan(med), 1.0, torch.exp(med))
            out = depth * scale.view(-1, 1, 1)
        elif mode == "lsq_scale":
            sxx, _, sxy, _ = sums(depth, torch.where(m, g, 0.0))
            degenerate = ~(sxx > 0)
            scale = torch.where(degenerate, 1.0, sxy / torch.where(degenerate, 1.0, sxx))
            out = depth * scale.view(-1, 1, 1)
        elif mode == "lsq_scale_shift":
            sxx, sx, sxy, sy = sums(depth, torch.where(m, g, 0.0))
            det = count * sxx - sx * sx
            ok = det.abs() > 1e-12 * count.clamp_min(1) ** 2
            scale = torch.where(ok, (count * sxy - sx * sy) / torch.where(ok, det, 1.0), 0.0)
            shift = torch.where(ok, (sy - scale * sx) / count.clamp_min(1), sy / count.clamp_min(1))
            out = depth * scale.view(-1, 1, 1) + shift.view(-1, 1, 1)
            degenerate = ~ok
        else:  # pragma: no cover - resolve_alignment validated the name
            raise UsageError(f"unknown alignment {mode!r}")

    # One device→host copy for the per-image status, not one sync per image.
    count_h, degenerate_h, scale_h = count.cpu().tolist(), degenerate.cpu().tolist(), scale.cpu().tolist()
    for b in range(batch):
        if count_h[b] == 0:
            status[b] = "empty_mask"
        elif degenerate_h[b]:
            status[b] = "degenerate"
        elif scale_h[b] < 0:
            status[b] = "negative_scale"
    empty = count == 0
    if 0 in count_h:
        fallback = 1.0 / p.clamp_min(1e-12) if kind.is_inverse else p
        out = torch.where(empty.view(-1, 1, 1), fallback, out)
    result: Any = out.to(torch.float32)
    if single:
        result = result[0]
    if is_numpy:
        result = result.cpu().numpy()
    info = AlignInfo(scale=scale.cpu().numpy(), shift=shift.cpu().numpy(), status=status)
    return result, info


def align(
    pred: Any,
    gt: Any,
    mask: Any,
    mode: str = "median",
    kind: DepthKind | str = DepthKind.METRIC,
    max_depth: float | None = None,
) -> Any:
    """Aligned prediction in metres (see ``align_with_info`` and the module docstring)."""
    return align_with_info(pred, gt, mask, mode=mode, kind=kind, max_depth=max_depth)[0]
