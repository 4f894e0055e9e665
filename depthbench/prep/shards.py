"""Resumable shard executor for large preparations (e.g. NYU raw: ~400k frames, ~60 CPU hours).

Work is a list of items split into contiguous shards of ``shard_size``. A job function
``job(shard_index, items) -> pyarrow.Table | path`` turns one shard into a parquet file; the executor

- writes ``{name}-{i:05d}-of-{n:05d}.parquet`` atomically (temp file in the same folder, then
  ``os.replace``), then its done-marker ``….parquet.done`` (JSON: shard, items, bytes, sha256), also
  atomically, so a shard counts as finished only when both are complete;
- skips shards whose marker exists and whose parquet still has the recorded size (and, with
  ``verify=True``, sha256), so a crashed or killed run resumes without redoing finished shards;
- records the plan (item count, shard size, shard count) in ``{name}.plan.json`` and refuses to
  resume with a different plan;
- runs shards on a local process pool (``executor="local"``, default; ``workers=0`` runs them in
  this process) or on a Ray cluster (``executor="ray"``, ``ray.init(address=ray_address)``; needs the
  ``depthbench[ray]`` extra). The job must be picklable (a module-level function) for both pools.

A job that returns a path must have written a finished parquet file on the same filesystem as
``out_dir``; the executor moves it into place.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from tqdm import tqdm

from depthbench.errors import DataError, UsageError

JobFn = Callable[[int, Sequence[Any]], "pa.Table | str | os.PathLike[str]"]
PARQUET_COMPRESSION = "zstd"


def shard_path(out_dir: str | Path, index: int, n_shards: int, name: str = "shard") -> Path:
    """Final parquet path of shard ``index``; its done-marker is the same path + ``.done``."""
    return Path(out_dir) / f"{name}-{index:05d}-of-{n_shards:05d}.parquet"


def _done_marker(path: Path) -> Path:
    return path.with_name(path.name + ".done")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_atomic_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def is_shard_done(path: Path, verify: bool = False) -> bool:
    """True when the done-marker exists and the parquet matches its recorded size (and sha256)."""
    marker = _done_marker(path)
    if not marker.is_file() or not path.is_file():
        return False
    try:
        record = json.loads(marker.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    if record.get("bytes") != path.stat().st_size:
        return False
    return not verify or record.get("sha256") == _sha256(path)


def run_one_shard(job: JobFn, index: int, items: Sequence[Any], path: Path) -> Path:
    """Run ``job`` on one shard and commit its parquet + done-marker atomically."""
    result = job(index, items)
    if isinstance(result, pa.Table):
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        try:
            pq.write_table(result, tmp, compression=PARQUET_COMPRESSION)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    elif isinstance(result, (str, os.PathLike)):
        produced = Path(result)
        if not produced.is_file():
            raise DataError(f"shard {index}: job returned {produced}, which is not a file")
        os.replace(produced, path)
    else:
        raise UsageError(
            f"shard {index}: job must return a pyarrow.Table or a parquet path, got {type(result).__name__}"
        )
    record = {"shard": index, "items": len(items), "bytes": path.stat().st_size, "sha256": _sha256(path)}
    _write_atomic_bytes(_done_marker(path), json.dumps(record, sort_keys=True).encode())
    return path


def _check_plan(out_dir: Path, name: str, plan: dict[str, int]) -> None:
    plan_file = out_dir / f"{name}.plan.json"
    if plan_file.is_file():
        previous = json.loads(plan_file.read_text())
        if previous != plan:
            raise UsageError(
                f"{plan_file}: existing shards were planned as {previous}, this run asks for {plan}; "
                "use the same items and shard_size, or a new out_dir"
            )
    else:
        _write_atomic_bytes(plan_file, json.dumps(plan, sort_keys=True).encode())


def _remove_stale_temps(out_dir: Path, name: str) -> None:
    for tmp in out_dir.glob(f".{name}-*.tmp"):  # left by a killed run; never a committed file
        tmp.unlink(missing_ok=True)


def run_shards(
    job: JobFn,
    items: Sequence[Any],
    out_dir: str | Path,
    *,
    shard_size: int,
    name: str = "shard",
    executor: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
    progress: bool = True,
    verify: bool = False,
) -> list[Path]:
    """Run ``job`` over ``items`` in shards; return the parquet paths of all shards, in order.

    ``executor``: "local" (process pool of ``workers`` processes, default os.cpu_count(); 0 = run
    in this process) or "ray" (``ray.init(address=ray_address)``; None starts a local Ray).
    """
    if shard_size < 1:
        raise UsageError(f"shard_size: expected ≥ 1, got {shard_size}")
    if executor not in ("local", "ray"):
        raise UsageError(f"executor: expected 'local' or 'ray', got {executor!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    n_shards = max(1, math.ceil(len(items) / shard_size))
    _check_plan(out, name, {"items": len(items), "shard_size": shard_size, "shards": n_shards})
    _remove_stale_temps(out, name)
    paths = [shard_path(out, i, n_shards, name) for i in range(n_shards)]
    pending = [i for i in range(n_shards) if not is_shard_done(paths[i], verify)]
    bar = tqdm(total=n_shards, initial=n_shards - len(pending), desc=name, unit="shard", disable=not progress)
    try:
        if executor == "ray":
            _run_ray(job, items, shard_size, paths, pending, ray_address, bar)
        elif workers == 0:
            for i in pending:
                run_one_shard(job, i, items[i * shard_size : (i + 1) * shard_size], paths[i])
                bar.update(1)
        else:
            _run_local(job, items, shard_size, paths, pending, workers, bar)
    finally:
        bar.close()
    return paths


def _run_local(
    job: JobFn,
    items: Sequence[Any],
    shard_size: int,
    paths: list[Path],
    pending: list[int],
    workers: int | None,
    bar: tqdm,
) -> None:
    # spawn: children start clean (no inherited locks or thread pools from numba/torch).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1, mp_context=context) as pool:
        futures = {
            pool.submit(run_one_shard, job, i, list(items[i * shard_size : (i + 1) * shard_size]), paths[i])
            for i in pending
        }
        while futures:
            finished, futures = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                future.result()  # re-raise a failed shard's error here
                bar.update(1)


def _run_ray(
    job: JobFn,
    items: Sequence[Any],
    shard_size: int,
    paths: list[Path],
    pending: list[int],
    ray_address: str | None,
    bar: tqdm,
) -> None:
    try:
        import ray
    except ImportError as exc:
        raise UsageError("executor='ray' needs Ray: pip install depthbench[ray]") from exc
    ray.init(address=ray_address, ignore_reinit_error=True)
    remote_shard = ray.remote(run_one_shard)
    refs = [
        remote_shard.remote(job, i, list(items[i * shard_size : (i + 1) * shard_size]), paths[i])
        for i in pending
    ]
    while refs:
        finished, refs = ray.wait(refs, num_returns=1)
        ray.get(finished)
        bar.update(len(finished))
