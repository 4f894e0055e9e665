"""The structure-quality families inside `evaluate` on the built-in synthetic-rooms dataset:
metrics, bootstrap intervals, per-sample statistics, batch-size independence, compare."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from depthbench.cli import main
from depthbench.evaluator import evaluate

FAMILIES = ["eigen", "ssim", "ssim_uniform7", "edge_f1", "normals", "boundary", "chamfer", "planarity"]
OVERRIDES = {"metrics": FAMILIES}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = tmp_path_factory.mktemp("quality_eval")
    common = {"limit": 6, "progress": False, "overrides": OVERRIDES, "n_boot": 200}
    a = evaluate("plane-prior", "synthetic-rooms", output=out / "plane.json", batch_size=4, **common)
    b = evaluate("constant", "synthetic-rooms", output=out / "constant.json", batch_size=4, **common)
    single = evaluate("plane-prior", "synthetic-rooms", batch_size=1, **common)
    return out, a, b, single


def test_reports_quality_metrics_with_intervals(runs):
    _, a, _, _ = runs
    for name in ("mssim", "mssim_uniform7", "edge_f1", "edge_f1_025", "normal_cos_dist", "dbe_acc", "chamfer"):
        assert name in a.metrics
    # No plane annotation in synthetic-rooms: planarity is skipped, not reported as NaN.
    assert "plane_flatness_cm" not in a.metrics
    assert set(a.intervals) == set(a.metrics)
    for name, (lo, hi) in a.intervals.items():
        assert lo <= hi


def test_streaming_batches_equal_one_shot(runs):
    _, a, _, single = runs
    for name, value in a.metrics.items():
        assert single.metrics[name] == pytest.approx(value, rel=1e-6, abs=1e-9)
    assert set(single.intervals) == set(a.intervals)
    for name, (lo, hi) in a.intervals.items():
        assert single.intervals[name] == pytest.approx((lo, hi), rel=1e-6, abs=1e-9)


def test_per_sample_table_carries_statistics(runs):
    out, a, _, _ = runs
    table = pq.read_table(out / a.per_sample_file)
    assert table.num_rows == 6
    assert {"stat.eigen.n", "stat.ssim.windows", "stat.edge_f1.n", "stat.normals.n", "mssim"} <= set(table.column_names)


def test_compare_two_models(runs, capsys):
    out, _, _, _ = runs
    assert main(["compare", str(out / "constant.json"), str(out / "plane.json"), "--format", "json",
                 "--n-boot", "100", "--n-perm", "100"]) == 0
    payload = json.loads(capsys.readouterr().out)
    metrics = {d["metric"] for d in payload["differences"]}
    assert {"delta1", "mssim", "edge_f1", "normal_angle_mean", "dbe_comp", "chamfer"} <= metrics


def test_cli_no_ci(runs, tmp_path, capsys):
    assert main(["evaluate", "--model", "constant", "--dataset", "synthetic-rooms", "--limit", "2", "--no-ci",
                 "--no-progress", "--format", "json", "-p", "metrics=[eigen,ssim]"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["intervals"] == {} and "mssim" in payload["metrics"]
