"""Bootstrap intervals, paired comparison and `depthbench compare` (stats.py, cmd_compare.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from depthbench.cli import main
from depthbench.errors import UsageError
from depthbench.evaluator import write_result
from depthbench.metrics import discover_metrics, eigen_metrics, eigen_stats
from depthbench.metrics.core import METRICS
from depthbench.metrics.edges import edge_stats
from depthbench.protocol import EvalProtocol
from depthbench.results import DatasetRecord, ModelRecord, Result
from depthbench.stats import (
    aggregate,
    bootstrap_intervals,
    bootstrap_weights,
    compare_results,
    paired_family,
    stat_column,
)


def _images(rng: np.random.Generator, n: int = 12, bias: float = 1.0, h: int = 12, w: int = 16):
    gt = rng.uniform(1, 5, (n, h, w)).astype(np.float32)
    pred = (gt * bias * rng.uniform(0.8, 1.2, (n, 1, 1)) + rng.normal(0, 0.2, gt.shape)).clip(0.1).astype(np.float32)
    mask = rng.uniform(size=gt.shape) > rng.uniform(0.0, 0.6, (n, 1, 1))
    return pred, gt, mask


def test_pooled_bootstrap_refinalizes_resampled_statistics(rng):
    """Each pooled replicate equals eigen_metrics on the pixels of the resampled images."""
    discover_metrics()
    pred, gt, mask = _images(rng)
    stats = eigen_stats(pred, gt, mask)
    weights = bootstrap_weights(len(stats), 3, np.random.default_rng(1))
    replicates = aggregate(METRICS.get("eigen"), stats, weights, "pooled")
    for r, row in enumerate(weights.astype(int)):
        idx = np.repeat(np.arange(len(stats)), row)
        direct = eigen_metrics(pred[idx], gt[idx], mask[idx], average="pooled")
        for name in ("abs_rel", "rmse", "silog", "delta1"):
            assert replicates[name][r] == pytest.approx(direct[name], rel=1e-9)
        per_image = aggregate(METRICS.get("eigen"), stats, weights[r : r + 1], "per_image")
        assert per_image["rmse"][0] == pytest.approx(eigen_metrics(pred[idx], gt[idx], mask[idx], average="per_image")["rmse"])


def test_intervals_contain_estimate_and_are_reproducible(rng):
    discover_metrics()
    pred, gt, mask = _images(rng, n=40)
    tables = {"eigen": eigen_stats(pred, gt, mask), "edge_f1": edge_stats(pred, gt, mask)}
    first = bootstrap_intervals(tables, "pooled", n_boot=300, seed=7)
    assert first == bootstrap_intervals(tables, "pooled", n_boot=300, seed=7)
    assert first != bootstrap_intervals(tables, "pooled", n_boot=300, seed=8)
    point = eigen_metrics(pred, gt, mask, average="pooled")
    for name, value in point.items():
        lo, hi = first[name]
        assert lo <= value <= hi and lo < hi
    assert set(first) >= {"edge_f1", "edge_precision", "delta1"}


def test_skipped_images_are_left_out_of_the_resampling(rng):
    discover_metrics()
    pred, gt, mask = _images(rng, n=10)
    mask[3] = False
    stats = eigen_stats(pred, gt, mask)
    with_empty = bootstrap_intervals({"eigen": stats}, "per_image", n_boot=200, seed=0)
    without = bootstrap_intervals({"eigen": np.delete(stats, 3, axis=0)}, "per_image", n_boot=200, seed=0)
    assert with_empty == without


def test_paired_identical_results_have_zero_difference(rng):
    discover_metrics()
    pred, gt, mask = _images(rng)
    stats = eigen_stats(pred, gt, mask)
    for d in paired_family(METRICS.get("eigen"), stats, stats, "pooled", n_boot=200, n_perm=200):
        assert d.diff == 0 and d.ci_low == 0 and d.ci_high == 0 and d.p_value == 1.0 and d.better == "tie"


def test_paired_detects_a_clear_improvement(rng):
    discover_metrics()
    pred, gt, mask = _images(rng, n=30, bias=1.3)
    better = (gt + 0.5 * (pred - gt)).astype(np.float32)
    rows = paired_family(METRICS.get("eigen"), eigen_stats(pred, gt, mask), eigen_stats(better, gt, mask),
                         "pooled", n_boot=500, n_perm=500, seed=0)
    abs_rel = next(d for d in rows if d.metric == "abs_rel")
    assert abs_rel.diff < 0 and abs_rel.ci_high < 0 and abs_rel.p_value < 0.01 and abs_rel.better == "B"
    # Permutation p-value oracle for a per-image metric: explicit sign flips of the differences.
    delta1 = next(d for d in paired_family(METRICS.get("eigen"), eigen_stats(pred, gt, mask),
                                           eigen_stats(better, gt, mask), "per_image", n_perm=500, seed=3)
                  if d.metric == "delta1")
    assert delta1.better == "B" and delta1.p_value < 0.01


def _write(tmp: Path, name: str, protocol: EvalProtocol, pred, gt, mask) -> Path:
    discover_metrics()
    stats = eigen_stats(pred, gt, mask)
    family = METRICS.get("eigen")
    rows = []
    for i, s in enumerate(stats):
        row = {"sample_id": f"s{i:03d}", "scene_id": "x"}
        row.update(family.finalize(s))
        row.update({stat_column("eigen", k): float(v) for k, v in zip(family.stat_names, s)})
        rows.append(row)
    result = Result(model=ModelRecord(name=name, output_kind="metric"),
                    dataset=DatasetRecord(name=protocol.dataset, split="test", count=len(rows)),
                    protocol=protocol, protocol_hash=protocol.hash,
                    metrics=eigen_metrics(pred, gt, mask, average=protocol.averaging), images_evaluated=len(rows))
    path = tmp / f"{name}.json"
    write_result(result, rows, path)
    return path


def test_compare_files_and_cli(tmp_path, rng, capsys):
    protocol = EvalProtocol(dataset="synthetic-rooms")
    pred, gt, mask = _images(rng, n=20, bias=1.2)
    a = _write(tmp_path, "a", protocol, pred, gt, mask)
    b = _write(tmp_path, "b", protocol, (gt + 0.3 * (pred - gt)).astype(np.float32), gt, mask)
    rows = compare_results(a, b, n_boot=200, n_perm=200)
    assert {d.metric for d in rows} == set(METRICS.get("eigen").outputs)
    assert next(d for d in rows if d.metric == "rmse").better == "B"
    assert main(["compare", str(a), str(b), "--format", "json", "--n-boot", "100", "--n-perm", "100"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert {d["metric"] for d in payload["differences"]} >= {"abs_rel", "delta1"}
    assert main(["compare", str(a), str(b)]) == 0
    assert "rmse" in capsys.readouterr().out


def test_compare_refuses_different_protocols(tmp_path, rng, capsys):
    pred, gt, mask = _images(rng)
    a = _write(tmp_path, "a", EvalProtocol(dataset="synthetic-rooms"), pred, gt, mask)
    b = _write(tmp_path, "b", EvalProtocol(dataset="synthetic-rooms", max_depth=8.0), pred, gt, mask)
    with pytest.raises(UsageError, match="protocol"):
        compare_results(a, b)
    assert main(["compare", str(a), str(b)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1
    assert main(["compare", str(a), str(b), "--format", "xml"]) == 2
