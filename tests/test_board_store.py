"""Results store: filing, refusals (duplicates, protocol versions, unmarked sources), CLI, and the
reported entries shipped in leaderboard/results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from depthbench.cli import main
from depthbench.errors import DataError
from depthbench.leaderboard.store import add_result, entry_filename, group_of, load_store
from depthbench.protocol import PROTOCOL_SCHEMA_VERSION
from depthbench.results import Result
from tests.test_board_helpers import KITTI, NYU, make_result

REPO = Path(__file__).resolve().parents[1]


def _write(result: Result, path: Path) -> Path:
    result.save(path)
    return path


def test_add_files_by_dataset_and_copies_samples_and_visuals(tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    result = make_result("net", NYU, {"delta1": 0.8}).model_copy(update={"per_sample_file": "r.samples.parquet"})
    (src / "r.samples.parquet").write_bytes(b"parquet bytes")
    vis = src / "vis"
    (vis / "s0").mkdir(parents=True)
    (vis / "s0" / "rgb.png").write_bytes(b"png")
    (vis / "visuals.json").write_text(json.dumps({"samples": []}))
    dest = add_result(_write(result, src / "r.json"), tmp_path / "store", visuals=vis, benchmarks={})
    assert dest == tmp_path / "store" / "nyu-v2" / f"net__{NYU.hash[:12]}.json"
    filed = Result.load(dest)
    assert filed.per_sample_file == f"net__{NYU.hash[:12]}.samples.parquet"
    assert (dest.parent / filed.per_sample_file).read_bytes() == b"parquet bytes"
    assert (dest.parent / "visuals" / dest.stem / "s0" / "rgb.png").read_bytes() == b"png"
    assert filed.metrics == result.metrics and filed.protocol_hash == NYU.hash
    [entry] = load_store(tmp_path / "store")
    assert entry.group == "nyu-v2" and entry.result.model.name == "net"


def test_benchmark_membership_decides_the_group() -> None:
    result = make_result("net", NYU, {"delta1": 0.8})
    assert group_of(result, {NYU.hash: ["zeroshot-v1"]}) == "zeroshot-v1"
    assert group_of(result, {KITTI.hash: ["kitti-eigen"]}) == "nyu-v2"
    both = {NYU.hash: ["nyu-eigen", "zeroshot-v1"]}
    with pytest.raises(DataError, match="choose one with --benchmark"):
        group_of(result, both)
    assert group_of(result, both, "zeroshot-v1") == "zeroshot-v1"
    with pytest.raises(DataError, match="not one of its protocols"):
        group_of(result, {KITTI.hash: ["kitti-eigen"]}, "kitti-eigen")


def test_duplicate_is_refused_and_file_untouched(tmp_path: Path) -> None:
    first = _write(make_result("net", NYU, {"delta1": 0.8}), tmp_path / "a.json")
    second = _write(make_result("net", NYU, {"delta1": 0.9}), tmp_path / "b.json")
    dest = add_result(first, tmp_path / "store", benchmarks={})
    before = dest.read_bytes()
    with pytest.raises(DataError, match="never overwritten"):
        add_result(second, tmp_path / "store", benchmarks={})
    assert dest.read_bytes() == before


def test_reported_and_measured_of_same_model_coexist(tmp_path: Path) -> None:
    a = _write(make_result("net", NYU, {"delta1": 0.8}), tmp_path / "a.json")
    b = _write(make_result("net", NYU, {"delta1": 0.85}, kind="reported"), tmp_path / "b.json")
    paths = {add_result(a, tmp_path / "s", benchmarks={}).name, add_result(b, tmp_path / "s", benchmarks={}).name}
    assert paths == {f"net__{NYU.hash[:12]}.json", f"net__{NYU.hash[:12]}__reported.json"}


def test_protocol_version_mismatch_is_refused(tmp_path: Path) -> None:
    old = NYU.model_copy(update={"version": PROTOCOL_SCHEMA_VERSION + 1})
    result = make_result("net", old, {"delta1": 0.8})
    assert result.protocol.version != PROTOCOL_SCHEMA_VERSION
    with pytest.raises(DataError, match="protocol version"):
        add_result(_write(result, tmp_path / "r.json"), tmp_path / "store", benchmarks={})
    assert not (tmp_path / "store").exists()


def test_unmarked_sources_are_refused(tmp_path: Path) -> None:
    reported = make_result("net", NYU, {"delta1": 0.8}, kind="reported").model_copy(update={"reported": None})
    with pytest.raises(DataError, match="needs a 'reported' source"):
        add_result(_write(reported, tmp_path / "a.json"), tmp_path / "s", benchmarks={})
    measured = make_result("net", NYU, {"delta1": 0.8}).model_copy(
        update={"reported": make_result("x", NYU, {"delta1": 1.0}, kind="reported").reported})
    with pytest.raises(DataError, match="must not carry"):
        add_result(_write(measured, tmp_path / "b.json"), tmp_path / "s", benchmarks={})


def test_edited_protocol_and_missing_samples_are_refused(tmp_path: Path) -> None:
    path = _write(make_result("net", NYU, {"delta1": 0.8}), tmp_path / "r.json")
    data = json.loads(path.read_text())
    data["protocol"]["max_depth"] = 9.0
    path.write_text(json.dumps(data))
    with pytest.raises(DataError, match="protocol_hash does not match"):
        add_result(path, tmp_path / "s", benchmarks={})
    lost = make_result("net", NYU, {"delta1": 0.8}).model_copy(update={"per_sample_file": "gone.parquet"})
    with pytest.raises(DataError, match="per-sample file"):
        add_result(_write(lost, tmp_path / "l.json"), tmp_path / "s", benchmarks={})


def test_load_store_refuses_renamed_files(tmp_path: Path) -> None:
    result = make_result("net", NYU, {"delta1": 0.8})
    _write(result, tmp_path / "nyu-v2" / "renamed.json")
    with pytest.raises(DataError, match="file name should be"):
        load_store(tmp_path)


def test_cli_add_list_build_and_refusal(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    src = _write(make_result("net", NYU, {"delta1": 0.8, "abs_rel": 0.1}), tmp_path / "r.json")
    store = tmp_path / "store"
    assert main(["leaderboard", "add", str(src), "--results", str(store)]) == 0
    assert (store / "nyu-v2" / entry_filename(Result.load(src))).is_file()
    assert main(["leaderboard", "add", str(src), "--results", str(store)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "never overwritten" in err
    assert main(["leaderboard", "list", "--results", str(store)]) == 0
    assert "net" in capsys.readouterr().out
    assert main(["leaderboard", "build", "--results", str(store), "--out", str(tmp_path / "site")]) == 0
    assert (tmp_path / "site" / "nyu-v2.html").is_file() and (tmp_path / "site" / "tables" / "nyu-v2-depth.tex").is_file()


def test_shipped_store_is_valid_and_marks_reported_numbers() -> None:
    entries = load_store(REPO / "leaderboard" / "results")
    reported = [e for e in entries if e.result.kind == "reported"]
    measured = [e for e in entries if e.result.kind == "measured"]
    assert reported and measured
    for e in reported:
        assert e.result.reported is not None and e.result.reported.paper and e.result.reported.table
        assert "transcribed from the paper; verify" in e.result.reported.notes
        assert e.path.name.endswith("__reported.json")
    for e in measured:
        assert e.result.per_sample_file and (e.path.parent / e.result.per_sample_file).is_file()
    groups = {e.group for e in measured}
    assert "synthetic-rooms" in groups


def test_add_refuses_to_write_into_an_installed_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import depthbench.catalog
    from depthbench.errors import UsageError

    installed = tmp_path / "site-packages" / "depthbench" / "_catalog" / "leaderboard" / "results"
    installed.mkdir(parents=True)
    monkeypatch.setattr(depthbench.catalog, "catalog_dir", lambda kind: installed)
    src = _write(make_result("net", NYU, {"delta1": 0.8}), tmp_path / "r.json")
    with pytest.raises(UsageError, match="give --results"):
        add_result(src, benchmarks={})
    assert not any(installed.iterdir())


def test_cli_add_asks_which_benchmark_when_several_share_the_protocol(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from depthbench.leaderboard.store import benchmark_hashes
    from depthbench.protocol import default_protocol

    protocol = default_protocol("kitti-eigen-raw")
    shared = benchmark_hashes().get(protocol.hash, [])
    assert sorted(shared) == ["kitti-eigen", "zeroshot-v1"]  # the shipped catalog shares it
    src = _write(make_result("net", protocol, {"delta1": 0.8}), tmp_path / "r.json")
    store = tmp_path / "store"
    assert main(["leaderboard", "add", str(src), "--results", str(store)]) == 1
    assert "--benchmark" in capsys.readouterr().err
    assert main(["leaderboard", "add", str(src), "--results", str(store), "--benchmark", shared[0]]) == 0
    assert (store / shared[0] / entry_filename(Result.load(src))).is_file()
