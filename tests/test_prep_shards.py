"""Shard executor: atomic shards, resume, kill-and-resume byte identity, ray path."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import types
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from depthbench.errors import UsageError
from depthbench.prep.shards import is_shard_done, run_shards, shard_path

REPO = Path(__file__).parents[1]


def square_job(index: int, items: list[int]) -> pa.Table:
    return pa.table({"shard": [index] * len(items), "item": items, "square": [i * i for i in items]})


def path_job(index: int, items: list[int]) -> str:
    out = Path(os.environ["PATH_JOB_DIR"]) / f"tmp-{index}.parquet"
    pq.write_table(square_job(index, items), out)
    return str(out)


def test_inline_run_writes_all_shards_and_markers(tmp_path: Path) -> None:
    paths = run_shards(square_job, list(range(10)), tmp_path, shard_size=3, workers=0, progress=False)
    assert [p.name for p in paths] == [f"shard-{i:05d}-of-00004.parquet" for i in range(4)]
    table = pa.concat_tables([pq.read_table(p) for p in paths])
    assert table.column("square").to_pylist() == [i * i for i in range(10)]
    for i, p in enumerate(paths):
        record = json.loads(Path(str(p) + ".done").read_text())
        assert record["shard"] == i and record["bytes"] == p.stat().st_size
        assert is_shard_done(p, verify=True)
    assert not list(tmp_path.glob(".*.tmp"))


def test_resume_skips_done_shards_and_redoes_broken_ones(tmp_path: Path) -> None:
    calls: list[int] = []

    def counting_job(index: int, items: list[int]) -> pa.Table:
        calls.append(index)
        return square_job(index, items)

    run_shards(counting_job, list(range(10)), tmp_path, shard_size=3, workers=0, progress=False)
    assert calls == [0, 1, 2, 3]
    calls.clear()
    Path(str(shard_path(tmp_path, 2, 4)) + ".done").unlink()  # as if killed between parquet and marker
    shard_path(tmp_path, 1, 4).write_bytes(b"truncated")  # size no longer matches its marker
    (tmp_path / ".shard-00003-of-00004.parquet.abc.tmp").write_bytes(b"partial")
    run_shards(counting_job, list(range(10)), tmp_path, shard_size=3, workers=0, progress=False)
    assert calls == [1, 2]
    assert not (tmp_path / ".shard-00003-of-00004.parquet.abc.tmp").exists()
    with pytest.raises(UsageError, match="plan"):
        run_shards(counting_job, list(range(10)), tmp_path, shard_size=4, workers=0, progress=False)


def test_local_pool_and_path_returning_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH_JOB_DIR", str(tmp_path / "out"))
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    pool = run_shards(square_job, list(range(7)), tmp_path / "pool", shard_size=2, workers=2, progress=False)
    moved = run_shards(path_job, list(range(7)), tmp_path / "out", shard_size=2, workers=0, progress=False)
    for a, b in zip(pool, moved):
        assert pq.read_table(a).equals(pq.read_table(b))
    assert not list((tmp_path / "out").glob("tmp-*.parquet"))


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="executor"):
        run_shards(square_job, [1], tmp_path, shard_size=1, executor="dask")
    with pytest.raises(UsageError, match="shard_size"):
        run_shards(square_job, [1], tmp_path, shard_size=0)
    with pytest.raises(UsageError, match="pyarrow.Table"):
        run_shards(lambda i, items: 42, [1], tmp_path, shard_size=1, workers=0, progress=False)


def test_ray_missing_gives_install_hint(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray → ImportError
    with pytest.raises(UsageError, match=r"pip install depthbench\[ray\]"):
        run_shards(square_job, [1, 2], tmp_path, shard_size=1, executor="ray", progress=False)


def test_ray_path_uses_ray_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A stand-in ``ray`` module that runs remote calls eagerly checks the calls the executor makes."""
    log: list[tuple] = []

    class Ref:
        def __init__(self, value: object) -> None:
            self.value = value

    def remote(fn):
        return types.SimpleNamespace(remote=lambda *a: Ref(fn(*a)))

    def ray_wait(refs, num_returns):
        log.append(("wait", num_returns))
        return refs[:num_returns], refs[num_returns:]

    fake = types.SimpleNamespace(
        init=lambda address=None, ignore_reinit_error=False: log.append(("init", address)),
        remote=remote,
        wait=ray_wait,
        get=lambda refs: [r.value for r in refs],
    )
    monkeypatch.setitem(sys.modules, "ray", fake)
    paths = run_shards(
        square_job,
        list(range(5)),
        tmp_path,
        shard_size=2,
        executor="ray",
        ray_address="ray://head:10001",
        progress=False,
    )
    assert log[0] == ("init", "ray://head:10001") and log.count(("wait", 1)) == 3
    assert all(is_shard_done(p, verify=True) for p in paths)


SCRIPT = """
import sys, time
from pathlib import Path
import pyarrow as pa
from depthbench.prep.shards import run_shards

def job(index, items):
    with open(sys.argv[2], "a") as log:
        log.write(f"{index}\\n")
    time.sleep(float(sys.argv[3]))
    values = [float(i) ** 0.5 for i in items]
    return pa.table({"item": items, "value": values, "text": [f"row-{i}" for i in items]})

if __name__ == "__main__":
    run_shards(job, list(range(60)), Path(sys.argv[1]), shard_size=5, workers=2, progress=False)
"""


@pytest.mark.slow
def test_kill_and_resume_is_byte_identical(tmp_path: Path) -> None:
    script = tmp_path / "prep_job.py"
    script.write_text(textwrap.dedent(SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    def run(out: Path, log: Path, delay: str) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(script), str(out), str(log), delay], env=env, start_new_session=True
        )

    clean = tmp_path / "clean"
    assert run(clean, tmp_path / "clean.log", "0").wait(timeout=300) == 0

    killed = tmp_path / "killed"
    proc = run(killed, tmp_path / "first.log", "0.3")
    deadline = time.time() + 120
    while len(list(killed.glob("*.done"))) < 3 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # the whole pool, mid-shard
    proc.wait(timeout=30)
    done_before = sorted(int(p.name[6:11]) for p in killed.glob("*.done"))
    assert 3 <= len(done_before) < 12

    assert run(killed, tmp_path / "resume.log", "0").wait(timeout=300) == 0
    redone = {int(line) for line in (tmp_path / "resume.log").read_text().split()}
    assert redone.isdisjoint(done_before) and redone | set(done_before) == set(range(12))
    names = sorted(p.name for p in clean.iterdir())
    assert names == sorted(p.name for p in killed.iterdir())
    assert any(name.endswith(".parquet") for name in names)
    for name in names:  # parquet shards, done-markers and the plan
        assert (clean / name).read_bytes() == (killed / name).read_bytes(), name
