"""Leaderboard tables: golden renderings, marks, ordering, zero-shot mean rank."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from depthbench.leaderboard.tables import (
    RENDERERS,
    ZeroShotColumn,
    competition_ranks,
    metric_table,
    rank_marks,
    to_csv,
    to_latex,
    to_markdown,
    zeroshot_table,
)
from tests.test_board_helpers import NYU, SINTEL, TUM, make_result, nyu_set, stored, zeroshot_set

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("DEPTHBENCH_UPDATE_GOLDEN") == "1"


def _check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"golden file {path} missing (run with DEPTHBENCH_UPDATE_GOLDEN=1 and review it)"
    assert text == path.read_text(encoding="utf-8")


def _zeroshot_columns() -> list[ZeroShotColumn]:
    tum_d1 = TUM.with_overrides({"headline": "delta1"})
    return [ZeroShotColumn("nyu-v2", NYU.hash, "delta1"), ZeroShotColumn("tum-rgbd", tum_d1.hash, "delta1"),
            ZeroShotColumn("sintel", SINTEL.hash, "abs_rel")]


@pytest.mark.parametrize("ext", sorted(RENDERERS))
def test_nyu_table_matches_golden(ext: str) -> None:
    table = metric_table("nyu-v2-depth", "nyu-v2: depth accuracy", nyu_set())
    assert table is not None
    _check_golden(f"board_nyu.{ext}", RENDERERS[ext](table))


@pytest.mark.parametrize("ext", sorted(RENDERERS))
def test_zeroshot_table_matches_golden(ext: str) -> None:
    table = zeroshot_table("zs-zeroshot", "zs: zero-shot", _zeroshot_columns(), zeroshot_set())
    assert table is not None
    _check_golden(f"board_zeroshot.{ext}", RENDERERS[ext](table))


def test_rows_ordered_by_delta1_and_marks_follow_direction() -> None:
    table = metric_table("t", "t", nyu_set())
    assert table is not None
    assert [r.label for r in table.rows] == ["beta", "paper_net", "alpha", "gamma"]
    marks = {r.label: {k: c.mark for k, c in r.cells.items()} for r in table.rows}
    # δ1 higher is better: beta 0.85 best, paper_net 0.846 second.
    assert marks["beta"]["delta1"] == "best" and marks["paper_net"]["delta1"] == "second"
    # rel lower is better: beta 0.12 best, paper_net 0.123 second.
    assert marks["beta"]["abs_rel"] == "best" and marks["paper_net"]["abs_rel"] == "second"
    # δ3 has a three-way tie at 0.99 (displayed) below paper_net's 0.994: paper_net best, ties second.
    assert marks["paper_net"]["delta3"] == "best"
    assert marks["alpha"]["delta3"] == marks["beta"]["delta3"] == "second"
    assert marks["gamma"]["delta3"] == ""
    # Column set follows what results have: no sq_rel / rms log in this set.
    assert [c.key for c in table.columns] == ["delta1", "delta2", "delta3", "abs_rel", "rmse", "log10"]


def test_reported_rows_are_marked_in_every_format() -> None:
    table = metric_table("t", "t", nyu_set())
    assert table is not None
    md, tex, text_csv = to_markdown(table), to_latex(table), to_csv(table)
    assert "paper_net †1" in md and "† reported in the paper" in md
    assert r"paper\_net$^{\dagger1}$" in tex
    rows = list(csv.DictReader(io.StringIO(text_csv)))
    by_model = {r["model"]: r for r in rows}
    assert by_model["paper_net"]["kind"] == "reported"
    assert by_model["paper_net"]["source"].startswith("paper_net: Doe et al. 2020, Table 1")
    assert by_model["alpha"]["kind"] == "measured" and by_model["alpha"]["source"] == ""
    assert float(by_model["alpha"]["delta1_ci_low"]) == 0.78 and float(by_model["alpha"]["delta1_ci_high"]) == 0.82


def test_markdown_bold_and_underline_and_interval() -> None:
    table = metric_table("t", "t", nyu_set())
    md = to_markdown(table)  # type: ignore[arg-type]
    beta = next(line for line in md.splitlines() if line.startswith("| beta"))
    assert "**0.850**" in beta and "**0.120**" in beta
    paper = next(line for line in md.splitlines() if line.startswith("| paper_net"))
    assert "<u>0.846</u>" in paper
    alpha = next(line for line in md.splitlines() if line.startswith("| alpha"))
    assert "0.800 [0.780, 0.820]" in alpha


def test_no_table_without_metrics() -> None:
    only_whdr = [stored(make_result("m", NYU, {"whdr": 0.3}))]
    assert metric_table("q", "q", nyu_set(), quality=True) is None
    table = metric_table("d", "d", only_whdr)
    assert table is not None and [c.key for c in table.columns] == ["whdr"]


def test_quality_table_columns_and_directions() -> None:
    results = [stored(make_result("a", NYU, {"mssim": 0.9, "edge_f1": 0.5, "mne": 0.2})),
               stored(make_result("b", NYU, {"mssim": 0.8, "edge_f1": 0.6, "mne": 0.1}))]
    table = metric_table("q", "q", results, quality=True)
    assert table is not None
    assert [(c.label, c.higher_is_better) for c in table.columns] == [("mSSIM", True), ("F1 (edges)", True), ("mne", False)]
    marks = {r.label: {k: c.mark for k, c in r.cells.items()} for r in table.rows}
    assert marks["a"] == {"mssim": "best", "edge_f1": "second", "mne": "second"}
    assert marks["b"] == {"mssim": "second", "edge_f1": "best", "mne": "best"}


def test_zeroshot_mean_rank_against_hand_computation() -> None:
    table = zeroshot_table("z", "z", _zeroshot_columns(), zeroshot_set())
    assert table is not None
    ranks = {r.label: r.cells["mean_rank"].value for r in table.rows}
    # nyu: early 90 > late 80 → early 1, late 2; tum: late 75 > early 70 → late 1, early 2;
    # sintel: only early → 1. early (1 + 2 + 1) / 3, late (2 + 1) / 2.
    assert ranks == {"early": pytest.approx(4 / 3), "late": pytest.approx(1.5)}
    assert [r.label for r in table.rows] == ["early", "late"]
    late = next(r for r in table.rows if r.label == "late")
    assert late.cells[f"sintel:{SINTEL.hash[:8]}:abs_rel"].value is None
    # δ shown in percent with two decimals, abs_rel with three.
    assert "90.00" in to_markdown(table) and "0.400" in to_markdown(table)


def test_zeroshot_requires_exact_protocol_hash() -> None:
    other = NYU.with_overrides({"max_depth": 8.0})
    results = [stored(make_result("x", other, {"delta1": 0.99}), "zs")]
    assert zeroshot_table("z", "z", _zeroshot_columns(), results) is None


@given(st.lists(st.one_of(st.none(), st.integers(0, 20).map(float)), min_size=1, max_size=12), st.booleans())
def test_rank_marks_oracle(values: list[float | None], higher: bool) -> None:
    present = [v for v in values if v is not None]
    marks = rank_marks(values, higher)
    distinct = sorted(set(present), reverse=higher)
    for v, mark in zip(values, marks):
        if v is None:
            assert mark == ""
        elif v == distinct[0]:
            assert mark == "best"
        elif len(distinct) > 1 and v == distinct[1]:
            assert mark == "second"
        else:
            assert mark == ""
    ranks = competition_ranks(values, higher)
    for v, r in zip(values, ranks):
        if v is None:
            assert r is None
        else:
            assert r == 1 + sum(1 for w in present if (w > v if higher else w < v))


@given(st.permutations(range(4)))
def test_rendering_does_not_depend_on_input_order(order: list[int]) -> None:
    base = nyu_set()
    shuffled = [base[i] for i in order]
    a, b = metric_table("t", "t", base), metric_table("t", "t", shuffled)
    assert a is not None and b is not None
    for render in RENDERERS.values():
        assert render(a) == render(b)


def test_other_metrics_get_their_own_table() -> None:
    results = [stored(make_result("a", NYU, {"delta1": 0.8, "silog": 12.0, "zeta_score": 0.4})),
               stored(make_result("b", NYU, {"delta1": 0.7, "mssim": 0.9, "zeta_score": 0.6}))]
    from depthbench.leaderboard.tables import other_metrics

    assert other_metrics(results) == ["zeta_score"]
    table = metric_table("o", "o", results, metrics=other_metrics(results))
    assert table is not None and [c.key for c in table.columns] == ["zeta_score"]
    assert not table.columns[0].higher_is_better  # unknown metrics default to errors (lower is better)
    assert [r.label for r in table.rows] == ["a", "b"]
