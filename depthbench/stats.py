"""Statistics over per-image metric statistics: bootstrap confidence intervals of aggregates and
paired comparisons of two results.

Every metric family reduces an image to a K-vector of additive statistics s_i (metrics.core). An
aggregate is a function of those vectors: pooled averaging finalizes Σ_i s_i, per-image averaging
takes the mean over images of finalize(s_i). Both are linear in image weights w_i (the pooled sums
Σ w_i s_i, the per-image mean Σ w_i v_i / Σ w_i), so one routine (``aggregate``) evaluates an
aggregate for many weightings at once:

- bootstrap (Efron & Tibshirani 1993, percentile interval): resample the N images with replacement
  (multinomial counts w, seeded ``numpy.random.default_rng(seed)``) ``n_boot`` times; the 95 %
  interval is the 2.5th and 97.5th percentiles of the re-finalized aggregate. Pooled metrics
  resample per-image STATISTICS and re-finalize, never per-image metric values;
- paired comparison of results A and B under the same protocol (images paired by sample_id):
  difference d = m(B) − m(A), its bootstrap interval (the same resampled images for A and B), and a
  two-sided paired permutation test: each image's statistics are swapped between A and B with
  probability ½, p = (1 + #{|d*| ≥ |d|}) / (1 + n_perm).

Per-image statistics travel in the per-sample table as columns ``stat.<family>.<statistic>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from depthbench.errors import DataError, UsageError
from depthbench.metrics.core import METRICS, MetricFamily, finalize_many

STAT_PREFIX = "stat."
CONFIDENCE = 0.95


def stat_column(family: str, stat: str) -> str:
    """Per-sample table column of one statistic of one family."""
    return f"{STAT_PREFIX}{family}.{stat}"


def stats_from_rows(rows: list[dict[str, Any]], family: MetricFamily) -> np.ndarray:
    """N×K statistics of ``family`` from per-sample rows (rows without them → all zeros = skipped)."""
    columns = [stat_column(family.name, s) for s in family.stat_names]
    out = np.zeros((len(rows), len(columns)), dtype=np.float64)
    for i, row in enumerate(rows):
        values = [row.get(c) for c in columns]
        if all(v is not None and np.isfinite(v) for v in values):
            out[i] = values
    return out


def uses_pooled(family: MetricFamily, averaging: str) -> bool:
    return averaging == "pooled" and family.averaging == "either"


def aggregate(family: MetricFamily, stats: np.ndarray, weights: np.ndarray, averaging: str) -> dict[str, np.ndarray]:
    """Aggregate metric values for each row of ``weights`` (R×N) over images with ``stats`` (N×K).

    Pooled: finalize(Σ_i w_i s_i); per-image: Σ_i w_i v_i / Σ_i w_i with v_i = finalize(s_i).
    """
    weights = np.atleast_2d(weights)
    if uses_pooled(family, averaging):
        return finalize_many(family, weights @ stats)
    values = finalize_many(family, stats)
    total = weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {name: (weights @ v) / total for name, v in values.items()}


def bootstrap_weights(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """n_boot×n multinomial counts: how often each image is drawn in each bootstrap resample."""
    return rng.multinomial(n, np.full(n, 1.0 / n), size=n_boot).astype(np.float64)


def _percentiles(samples: np.ndarray) -> tuple[float, float]:
    finite = samples[np.isfinite(samples)]
    if len(finite) == 0:
        return float("nan"), float("nan")
    alpha = (1.0 - CONFIDENCE) / 2.0
    lo, hi = np.quantile(finite, [alpha, 1.0 - alpha])
    return float(lo), float(hi)


def bootstrap_intervals(
    family_stats: dict[str, np.ndarray], averaging: str, n_boot: int = 1000, seed: int = 0
) -> dict[str, tuple[float, float]]:
    """95 % percentile-bootstrap intervals of every output of every family (name → N×K stats).

    Images a family skipped (count statistic 0) are left out of its resampling. Reproducible for a
    seed: one generator, families in the given order.
    """
    rng = np.random.default_rng(seed)
    out: dict[str, tuple[float, float]] = {}
    for name, stats in family_stats.items():
        family = METRICS.get(name)
        stats = stats[stats[:, 0] > 0]
        if len(stats) == 0:
            continue
        replicates = aggregate(family, stats, bootstrap_weights(len(stats), n_boot, rng), averaging)
        out.update({metric: _percentiles(values) for metric, values in replicates.items()})
    return out


@dataclass(frozen=True)
class Difference:
    """Paired comparison of one metric: B − A with its 95 % bootstrap interval and p-value."""

    metric: str
    a: float
    b: float
    diff: float
    ci_low: float
    ci_high: float
    p_value: float
    higher_is_better: bool
    images: int

    @property
    def better(self) -> Literal["A", "B", "tie"]:
        if not np.isfinite(self.diff) or self.diff == 0:
            return "tie"
        return "B" if (self.diff > 0) == self.higher_is_better else "A"


def paired_family(
    family: MetricFamily, stats_a: np.ndarray, stats_b: np.ndarray, averaging: str,
    n_boot: int = 1000, n_perm: int = 1000, seed: int = 0,
) -> list[Difference]:
    """Paired comparison of one family from aligned N×K statistics of A and B (same images)."""
    keep = (stats_a[:, 0] > 0) & (stats_b[:, 0] > 0)
    sa, sb = stats_a[keep], stats_b[keep]
    n = len(sa)
    if n == 0:
        return []
    rng = np.random.default_rng(seed)
    ones = np.ones((1, n))
    point_a, point_b = aggregate(family, sa, ones, averaging), aggregate(family, sb, ones, averaging)
    boot = bootstrap_weights(n, n_boot, rng)
    boot_a, boot_b = aggregate(family, sa, boot, averaging), aggregate(family, sb, boot, averaging)
    swaps = rng.integers(0, 2, size=(n_perm, n)).astype(np.float64)
    perm_a, perm_b = _swapped(family, sa, sb, swaps, averaging)
    out = []
    for name in family.outputs:
        a, b = float(point_a[name][0]), float(point_b[name][0])
        diff = b - a
        lo, hi = _percentiles(boot_b[name] - boot_a[name])
        null = perm_b[name] - perm_a[name]
        extreme = np.count_nonzero(np.abs(null) >= abs(diff) - 1e-12 * max(1.0, abs(diff)))
        p = (1.0 + extreme) / (1.0 + n_perm) if np.isfinite(diff) else float("nan")
        out.append(Difference(name, a, b, diff, lo, hi, float(p), family.higher_is_better[name], n))
    return out


def _swapped(family: MetricFamily, sa: np.ndarray, sb: np.ndarray, swaps: np.ndarray,
             averaging: str) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Aggregates of A and B after swapping image i between them where swaps[r, i] = 1."""
    n = len(sa)
    if uses_pooled(family, averaging):
        delta = swaps @ (sb - sa)
        total_a, total_b = sa.sum(axis=0), sb.sum(axis=0)
        return finalize_many(family, total_a + delta), finalize_many(family, total_b - delta)
    va, vb = finalize_many(family, sa), finalize_many(family, sb)
    out_a, out_b = {}, {}
    for name in family.outputs:
        delta = swaps @ (vb[name] - va[name])
        out_a[name] = (va[name].sum() + delta) / n
        out_b[name] = (vb[name].sum() - delta) / n
    return out_a, out_b


def read_sample_rows(result_path: Path, per_sample_file: str | None) -> list[dict[str, Any]]:
    """Rows of a result's per-sample parquet (beside the result JSON)."""
    import pyarrow.parquet as pq

    if not per_sample_file:
        raise DataError(f"{result_path}: the result records no per-sample table (re-run evaluate with --output)")
    path = result_path.parent / per_sample_file
    if not path.is_file():
        raise DataError(f"{path}: per-sample table of {result_path.name} not found")
    return pq.read_table(path).to_pylist()


def compare_results(path_a: str | Path, path_b: str | Path, n_boot: int = 1000, n_perm: int = 1000,
                    seed: int = 0) -> list[Difference]:
    """Paired comparison of two result files (B − A per metric); same protocol hash required."""
    from depthbench.metrics import discover_metrics
    from depthbench.results import Result

    path_a, path_b = Path(path_a), Path(path_b)
    result_a, result_b = Result.load(path_a), Result.load(path_b)
    if result_a.protocol_hash != result_b.protocol_hash:
        raise UsageError(f"{path_a.name} and {path_b.name} were evaluated under different protocols "
                         f"({result_a.protocol_hash[:12]} vs {result_b.protocol_hash[:12]}); compare needs the same protocol hash")
    rows_a = {r["sample_id"]: r for r in read_sample_rows(path_a, result_a.per_sample_file)}
    rows_b = {r["sample_id"]: r for r in read_sample_rows(path_b, result_b.per_sample_file)}
    common = sorted(set(rows_a) & set(rows_b))
    if not common:
        raise DataError(f"{path_a.name} and {path_b.name} share no sample_id")
    discover_metrics()
    out: list[Difference] = []
    for name in result_a.protocol.metrics:
        family = METRICS.get(name)
        sa = stats_from_rows([rows_a[i] for i in common], family)
        sb = stats_from_rows([rows_b[i] for i in common], family)
        if not sa[:, 0].any() and not sb[:, 0].any():
            continue
        out += paired_family(family, sa, sb, result_a.protocol.averaging, n_boot, n_perm, seed)
    if not out:
        raise DataError(f"{path_a.name}, {path_b.name}: the per-sample tables carry no metric statistics "
                        "(results written before statistics were recorded?)")
    return out
