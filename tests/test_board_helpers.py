"""Small result sets for the leaderboard tests (shared by tests/test_board_*.py)."""

from __future__ import annotations

from pathlib import Path

from depthbench.leaderboard.store import StoredResult, entry_filename
from depthbench.protocol import EvalProtocol
from depthbench.results import DatasetRecord, ModelRecord, ReportedSource, Result

NYU = EvalProtocol(dataset="nyu-v2", split="test", crop="nyu-eigen", max_depth=10.0, averaging="pooled")
KITTI = EvalProtocol(dataset="kitti-eigen-raw", split="test", crop="kitti-garg", max_depth=80.0, averaging="per_image")
TUM = EvalProtocol(dataset="tum-rgbd", split="test", max_depth=10.0, alignment="median", averaging="per_image")
SINTEL = EvalProtocol(dataset="sintel", split="test", max_depth=72.0, alignment="median", headline="abs_rel")


def make_result(
    model: str,
    protocol: EvalProtocol,
    metrics: dict[str, float],
    *,
    kind: str = "measured",
    intervals: dict[str, tuple[float, float]] | None = None,
    parameters: int | None = None,
    family: str | None = None,
    output_kind: str = "metric",
    table: str = "Table 1",
) -> Result:
    info = {"family": family} if family else {}
    return Result(
        kind=kind,  # type: ignore[arg-type]
        model=ModelRecord(name=model, output_kind=output_kind, parameters=parameters, info=info),
        dataset=DatasetRecord(name=protocol.dataset, split=protocol.split, count=10),
        protocol=protocol,
        protocol_hash=protocol.hash,
        metrics=metrics,
        intervals=intervals or {},
        created="2026-11-21T00:00:00+00:00",
        reported=ReportedSource(paper="Doe et al. 2020", table=table, notes="pooled; Eigen crop") if kind == "reported" else None,
    )


def stored(result: Result, group: str | None = None, root: Path = Path("store")) -> StoredResult:
    group = group or result.protocol.dataset
    return StoredResult(path=root / group / entry_filename(result), group=group, result=result)


def nyu_set() -> list[StoredResult]:
    """Three measured models and one reported row on NYU, with one tie and one CI."""
    return [
        stored(make_result("alpha", NYU, {"delta1": 0.80, "delta2": 0.95, "delta3": 0.99, "abs_rel": 0.14,
                                          "rmse": 0.50, "log10": 0.060},
                           intervals={"delta1": (0.78, 0.82)}, parameters=40_000_000, family="A")),
        stored(make_result("beta", NYU, {"delta1": 0.85, "delta2": 0.97, "delta3": 0.99, "abs_rel": 0.12,
                                         "rmse": 0.47, "log10": 0.055}, parameters=5_000_000, family="B")),
        stored(make_result("gamma", NYU, {"delta1": 0.70, "delta2": 0.90, "delta3": 0.97, "abs_rel": 0.20,
                                          "rmse": 0.65, "log10": 0.080}, family="B", output_kind="uts")),
        stored(make_result("paper_net", NYU, {"delta1": 0.846, "delta2": 0.974, "delta3": 0.994, "abs_rel": 0.123,
                                              "rmse": 0.465, "log10": 0.053}, kind="reported", family="P")),
    ]


def zeroshot_set() -> list[StoredResult]:
    """Two models on a 3-dataset zero-shot suite; 'late' misses SINTEL."""
    tum_d1 = TUM.with_overrides({"headline": "delta1"})
    return [
        stored(make_result("early", NYU, {"delta1": 0.90}), "zs"),
        stored(make_result("early", tum_d1, {"delta1": 0.70}), "zs"),
        stored(make_result("early", SINTEL, {"abs_rel": 0.40}), "zs"),
        stored(make_result("late", NYU, {"delta1": 0.80}), "zs"),
        stored(make_result("late", tum_d1, {"delta1": 0.75}), "zs"),
    ]
