"""Absolute depth → UTS / UTSS training targets and mixtures of them (seed 004).

Definitions (DepthKind in depthbench.types):
- UTS, depth up to an unknown scale: ``uts = s · d`` with s > 0 drawn log-uniformly from
  ``scale_range``.
- UTSS, inverse depth up to unknown scale and shift: ``utss = s · (1/d) + t`` with s log-uniform in
  ``scale_range`` and ``t = f · s · median(1/d)`` over valid pixels, f uniform in ``shift_range``
  (the shift is expressed relative to the map's own inverse-depth level so that it is comparable
  across scenes; the default range [0, 1] keeps every value positive).
Invalid pixels (``valid`` False, or depth 0/NaN/inf when no mask is given) stay 0. Each conversion
takes an explicit seed; the drawn coefficients are returned and recorded in ``SampleMeta.extra``
(``uts_scale``, ``utss_scale``, ``utss_shift``, ``conversion_seed``) together with the new ``kind``.

The mixture builder converts exactly round(p_uts·N/100) samples to UTS and round(p_utss·N/100)
others to UTSS (chosen by a seeded permutation), leaving the rest metric; sample i's coefficients
come from ``numpy.random.default_rng([seed, i])`` so they do not depend on the other samples.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from depthbench.errors import DataError, UsageError
from depthbench.types import DepthKind, Sample, SampleMeta

SeedLike = int | Sequence[int]
DEFAULT_SCALE_RANGE = (0.1, 10.0)
DEFAULT_SHIFT_RANGE = (0.0, 1.0)


def _valid_mask(depth: np.ndarray, valid: np.ndarray | None) -> np.ndarray:
    depth = np.asarray(depth)
    mask = np.isfinite(depth) & (depth > 0)
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.shape != depth.shape:
            raise UsageError(f"valid: expected shape {depth.shape}, got {valid.shape}")
        mask &= valid
    return mask


def _log_uniform(rng: np.random.Generator, bounds: tuple[float, float], name: str) -> float:
    low, high = bounds
    if not 0 < low <= high:
        raise UsageError(f"{name}: expected 0 < low ≤ high, got {bounds}")
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def to_uts(
    depth: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    seed: SeedLike,
    scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE,
) -> tuple[np.ndarray, float]:
    """Return ``(s · depth, s)`` as float32 with s log-uniform in ``scale_range``; invalid → 0."""
    mask = _valid_mask(depth, valid)
    scale = _log_uniform(np.random.default_rng(seed), scale_range, "scale_range")
    out = np.where(mask, np.asarray(depth, dtype=np.float64) * scale, 0.0).astype(np.float32)
    return out, scale


def to_utss(
    depth: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    seed: SeedLike,
    scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE,
    shift_range: tuple[float, float] = DEFAULT_SHIFT_RANGE,
) -> tuple[np.ndarray, float, float]:
    """Return ``(s / depth + t, s, t)`` as float32 (module docstring gives s and t); invalid → 0."""
    mask = _valid_mask(depth, valid)
    if not mask.any():
        raise DataError("depth: no valid pixel; cannot define the UTSS shift from median inverse depth")
    if shift_range[0] > shift_range[1]:
        raise UsageError(f"shift_range: expected low ≤ high, got {shift_range}")
    rng = np.random.default_rng(seed)
    scale = _log_uniform(rng, scale_range, "scale_range")
    inverse = np.zeros(mask.shape)
    inverse[mask] = 1.0 / np.asarray(depth, dtype=np.float64)[mask]
    shift = float(rng.uniform(*shift_range)) * scale * float(np.median(inverse[mask]))
    out = np.where(mask, scale * inverse + shift, 0.0).astype(np.float32)
    return out, scale, shift


def _with_target(
    sample: Sample, depth: np.ndarray, kind: DepthKind, valid: np.ndarray, extra: dict
) -> Sample:
    meta = sample.meta
    new_meta = SampleMeta(
        dataset=meta.dataset,
        split=meta.split,
        sample_id=meta.sample_id,
        scene_id=meta.scene_id,
        frame_id=meta.frame_id,
        source_sha256=meta.source_sha256,
        extra={**meta.extra, **extra},
    )
    return sample.with_(depth=depth, valid=valid, kind=kind, meta=new_meta)


def _require_metric(sample: Sample) -> np.ndarray:
    if sample.kind != DepthKind.METRIC or sample.depth is None:
        raise UsageError(
            f"sample {sample.meta.sample_id!r}: expected a metric depth sample, got {sample.kind.value}"
        )
    return sample.depth


def sample_to_uts(
    sample: Sample, seed: SeedLike, scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE
) -> Sample:
    """A metric Sample as a UTS Sample; records ``uts_scale`` and ``conversion_seed`` in meta.extra."""
    depth = _require_metric(sample)
    mask = _valid_mask(depth, sample.valid)
    out, scale = to_uts(depth, mask, seed=seed, scale_range=scale_range)
    return _with_target(
        sample, out, DepthKind.UTS, mask, {"uts_scale": scale, "conversion_seed": _seed_repr(seed)}
    )


def sample_to_utss(
    sample: Sample,
    seed: SeedLike,
    scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE,
    shift_range: tuple[float, float] = DEFAULT_SHIFT_RANGE,
) -> Sample:
    """A metric Sample as a UTSS Sample; records ``utss_scale``, ``utss_shift``, ``conversion_seed``."""
    depth = _require_metric(sample)
    mask = _valid_mask(depth, sample.valid)
    out, scale, shift = to_utss(depth, mask, seed=seed, scale_range=scale_range, shift_range=shift_range)
    extra = {"utss_scale": scale, "utss_shift": shift, "conversion_seed": _seed_repr(seed)}
    return _with_target(sample, out, DepthKind.UTSS, mask, extra)


def _seed_repr(seed: SeedLike) -> list[int]:
    return [int(seed)] if isinstance(seed, (int, np.integer)) else [int(s) for s in seed]


def build_mixture(
    samples: Sequence[Sample],
    p_uts: float,
    p_utss: float = 0.0,
    *,
    seed: int,
    scale_range: tuple[float, float] = DEFAULT_SCALE_RANGE,
    shift_range: tuple[float, float] = DEFAULT_SHIFT_RANGE,
) -> list[Sample]:
    """Convert p_uts % of metric ``samples`` to UTS and p_utss % to UTSS; the rest stay metric.

    Counts are round(p·N/100) (numpy round-half-even); which samples is decided by
    ``default_rng(seed).permutation(N)``: the first ones become UTS, the next ones UTSS.
    """
    if p_uts < 0 or p_utss < 0 or p_uts + p_utss > 100:
        raise UsageError(f"p_uts, p_utss: expected percentages ≥ 0 summing to ≤ 100, got {p_uts}, {p_utss}")
    n = len(samples)
    n_uts = int(np.round(p_uts * n / 100))
    n_utss = min(int(np.round(p_utss * n / 100)), n - n_uts)
    order = np.random.default_rng(seed).permutation(n)
    kind_of = {int(i): DepthKind.UTS for i in order[:n_uts]}
    kind_of.update({int(i): DepthKind.UTSS for i in order[n_uts : n_uts + n_utss]})
    mixed = []
    for i, sample in enumerate(samples):
        kind = kind_of.get(i, DepthKind.METRIC)
        if kind == DepthKind.UTS:
            mixed.append(sample_to_uts(sample, [seed, i], scale_range))
        elif kind == DepthKind.UTSS:
            mixed.append(sample_to_utss(sample, [seed, i], scale_range, shift_range))
        else:
            _require_metric(sample)
            mixed.append(sample)
    return mixed
