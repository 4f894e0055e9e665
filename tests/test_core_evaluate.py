"""Evaluator and CLI end to end on a small synthetic-rooms split, and every listed bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch

import depthbench as db
from depthbench.cli import main
from depthbench.evaluator import evaluate, per_sample_rows
from depthbench.prepare import prepare_dataset
from depthbench.results import Result


@pytest.fixture(scope="session")
def rooms(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("rooms")
    prepare_dataset("synthetic-rooms", None, root, frames={"test": 6}, splits=["test"])
    return root


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:  # type: ignore[no-untyped-def]
    code = main(args)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_evaluate_api_writes_result_and_per_sample(rooms, tmp_path):
    out = tmp_path / "r.json"
    result = evaluate("constant", "synthetic-rooms", root=rooms, output=out, progress=False)
    assert result.images_evaluated == 6 and 0 <= result.metrics["delta1"] <= 1
    loaded = Result.load(out)
    assert loaded.protocol_hash == result.protocol.hash and loaded.model.output_kind == "metric"
    assert loaded.dataset.fingerprint and loaded.versions["torch"] == torch.__version__
    table = pq.read_table(tmp_path / loaded.per_sample_file).to_pylist()
    assert len(table) == 6 and {"sample_id", "abs_rel", "align_status"} <= set(table[0])


def test_per_sample_rows_reproduce_per_image_average(rooms):
    result = evaluate("plane-prior", "synthetic-rooms", root=rooms, progress=False,
                      overrides={"averaging": "per_image"})
    rows = per_sample_rows(result)
    assert result.metrics["abs_rel"] == pytest.approx(np.mean([r["abs_rel"] for r in rows]), rel=1e-12)
    assert result.alignment_status == {"ok": 6}


def test_evaluator_matches_direct_metric_computation(rooms):
    """The evaluator's constant-model numbers equal eigen_metrics on the raw arrays."""
    ds = db.load_dataset("synthetic-rooms", "test", root=rooms)
    gt = np.stack([s.depth for s in ds])
    mask = np.stack([s.valid for s in ds]) & (gt > 1e-3) & (gt < 10)
    want = db.metrics.eigen_metrics(np.full_like(gt, 2.1720855), gt, mask)
    got = evaluate("constant", "synthetic-rooms", root=rooms, progress=False).metrics
    for k in want:
        assert got[k] == pytest.approx(want[k], rel=1e-6)


def test_flip_tta_and_disparity_model_with_resize(rooms):
    result = evaluate("tests.bad_models:half_res_disparity_model", "synthetic-rooms", root=rooms,
                      progress=False, overrides={"flip_tta": True})
    assert result.model.output_kind == "utss" and np.isfinite(result.metrics["abs_rel"])


def test_cli_table_and_json(rooms, capsys, tmp_path):
    code, out, _ = run_cli(["evaluate", "--model", "constant", "--dataset", "synthetic-rooms", "--root", str(rooms),
                            "--no-progress"], capsys)
    assert code == 0 and "delta1" in out and "abs_rel" in out
    code, out, _ = run_cli(["evaluate", "-m", "plane-prior", "-d", "synthetic-rooms", "--root", str(rooms),
                            "--format", "json", "--no-progress", "-p", "averaging=per_image",
                            "--output", str(tmp_path / "o.json")], capsys)
    payload = json.loads(out)
    assert code == 0 and payload["protocol"]["averaging"] == "per_image"
    assert (tmp_path / "o.json").exists()


def test_cli_lists(capsys):
    for what, expected in [("datasets", "synthetic-rooms"), ("models", "plane-prior"), ("metrics", "eigen")]:
        code, out, _ = run_cli(["list", what], capsys)
        assert code == 0 and expected in out
    code, _, err = run_cli(["list", "things"], capsys)
    assert code == 2 and "expected datasets" in err


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--model", "constnt"], 2, "did you mean 'constant'"),
        (["--dataset", "synthetic-room"], 2, "did you mean 'synthetic-rooms'"),
        (["--root", "/nonexistent/folder"], 1, "does not exist"),
        (["--model", "tests.bad_models:nan_model"], 1, "NaN or inf"),
        (["--model", "tests.bad_models:negative_model"], 1, "negative values"),
        (["--model", "tests.bad_models:wrong_batch_model"], 1, "expected"),
        (["--model", "tests.bad_models:not_a_model"], 2, "expected a DepthModel"),
        (["--model", "nosuchmodule_xyz:make"], 2, "cannot import module"),
        (["-p", "min_depth=20", "-p", "max_depth=30"], 1, "no image has a valid pixel"),
        (["--device", "cuda"], 2, "CUDA"),
        (["-p", "crop=moon"], 2, "unknown crop"),
        (["--format", "xml"], 2, "expected 'table' or 'json'"),
    ],
)
def test_cli_errors_are_one_line(rooms, capsys, args, code, message):
    if "--device" in args and torch.cuda.is_available():
        pytest.skip("CUDA present")
    base = {"--model": "constant", "--dataset": "synthetic-rooms", "--root": str(rooms)}
    for i in range(0, len(args) - 1):
        if args[i] in base:
            base[args[i]] = args[i + 1]
    extra = [a for i, a in enumerate(args) if a not in base and (i == 0 or args[i - 1] not in base)]
    argv = ["evaluate", "--no-progress"] + [x for kv in base.items() for x in kv] + extra
    got, _, err = run_cli(argv, capsys)
    assert got == code, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_corrupt_parquet_cli_error(rooms, capsys, tmp_path):
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(rooms, broken)
    shard = next((broken / "data").glob("test-*.parquet"))
    shard.write_bytes(b"not parquet at all")
    code, _, err = run_cli(["evaluate", "-m", "constant", "-d", "synthetic-rooms", "--root", str(broken)], capsys)
    assert code == 1 and "corrupt parquet" in err


def test_console_script_exit_code_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "depthbench", "evaluate", "-m", "constant", "-d", "nope"],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == 2 and "unknown dataset 'nope'" in proc.stderr and "Traceback" not in proc.stderr


def test_public_api():
    assert "synthetic-rooms" in db.list_datasets()
    assert {"constant", "plane-prior"} <= set(db.list_models())
    assert isinstance(db.list_benchmarks(), list)
    model = db.create_model("constant", value=3.0)
    pred = model.predict(torch.zeros(1, 3, 8, 8))
    assert pred.kind == db.DepthKind.METRIC and float(pred.depth[0, 0, 0]) == 3.0


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["evaluate", "--dataset", "synthetic-rooms"], 2, "Missing option '--model'"),
        (["evaluate", "-m", "constant", "-d", "synthetic-rooms", "--batch-size", "0"], 2, "--batch-size"),
        (["evaluate", "-m", "constant", "-d", "synthetic-rooms", "--model-option", "bogus=1"], 2, "bad options"),
        (["list"], 2, "Missing argument"),
    ],
)
def test_real_console_usage_errors_have_no_traceback(argv, code, message):
    """Through a real process: typer's own (vendored click) exceptions map to exit 2, no traceback."""
    proc = subprocess.run([sys.executable, "-m", "depthbench", *argv], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1])
    assert proc.returncode == code, proc.stderr
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_debug_flag_anywhere(capsys):
    assert main(["list", "datasets", "--debug"]) == 0


def test_ground_truth_kind_drives_alignment(tmp_path):
    """Up-to-scale GT (UTS) gets median scaling even for a metric model; UTSS GT is refused."""
    from depthbench.align import resolve_alignment
    from depthbench.errors import UsageError
    from depthbench.types import DepthKind

    assert resolve_alignment("auto", DepthKind.METRIC, DepthKind.UTS) == "median"
    assert resolve_alignment("auto", DepthKind.UTSS, DepthKind.UTS) == "lsq_scale_shift_disparity"
    with pytest.raises(UsageError, match="utss"):
        resolve_alignment("auto", DepthKind.METRIC, DepthKind.UTSS)


def test_constant_refits_per_dataset_and_limit_runs_are_partial(rooms):
    model = db.create_model("constant")
    first = evaluate(model, "synthetic-rooms", root=rooms, progress=False, limit=2)
    assert not first.dataset.complete and first.dataset.split_size == 6
    assert first.alignment == "none"
    model.value = 99.0  # as if fitted to another dataset: the next fit must replace it
    again = evaluate(model, "synthetic-rooms", root=rooms, progress=False)
    assert model.value == pytest.approx(2.1720855) and again.dataset.complete
