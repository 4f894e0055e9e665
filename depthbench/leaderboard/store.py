"""The results store: ``leaderboard/results/<group>/<model>__<protocolhash12>[__reported].json``.

``<group>`` is the benchmark whose protocols include the result's protocol (matched by protocol
hash; the caller names it when several do), else the dataset name. One file per (model, revision, protocol, kind); a file is never
overwritten. Measured results keep their per-sample parquet beside them; a measured result may
bring a ``--save-visuals`` folder, filed under ``<group>/visuals/<entry stem>/``.

Reported entries (numbers copied from a paper) carry ``kind="reported"`` and a ``reported``
source (paper, table, notes); they never need the dataset's manifest or prepared data, so they
load even before a dataset is catalogued.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from depthbench.errors import DataError
from depthbench.protocol import PROTOCOL_SCHEMA_VERSION
from depthbench.results import RESULT_SCHEMA_VERSION, Result

REPORTED_SUFFIX = "__reported"
VISUALS_DIR = "visuals"
VISUALS_INDEX = "visuals.json"
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


@dataclass(frozen=True)
class StoredResult:
    """One validated result of the store and where it lives."""

    path: Path
    group: str
    result: Result

    @property
    def entry_id(self) -> str:
        return self.path.stem

    @property
    def visuals_dir(self) -> Path:
        return self.path.parent / VISUALS_DIR / self.path.stem


def default_results_root(for_writing: bool = False) -> Path:
    """The catalog's results folder (``leaderboard/results`` in a checkout). An installed wheel's
    copy is read-only data: writing needs an explicit folder."""
    from depthbench.catalog import catalog_dir
    from depthbench.errors import UsageError

    root = catalog_dir("results")
    if for_writing and "_catalog" in root.parts:
        raise UsageError(f"the default results store {root} is inside the installed package; give --results DIR")
    return root


def safe_name(text: str) -> str:
    """``text`` reduced to a file-name-safe token (runs of other characters become ``-``)."""
    token = _UNSAFE.sub("-", text).strip("-")
    if not token:
        raise DataError(f"model name {text!r}: no usable characters for a file name")
    return token


def entry_filename(result: Result) -> str:
    """``<model>[@<revision>]__<protocolhash12>[__reported].json``."""
    model = result.model.name + (f"@{result.model.revision}" if result.model.revision else "")
    suffix = REPORTED_SUFFIX if result.kind == "reported" else ""
    return f"{safe_name(model)}__{result.protocol_hash[:12]}{suffix}.json"


def benchmark_hashes() -> dict[str, list[str]]:
    """protocol hash → names of the catalogued benchmarks having that protocol (sorted).

    A benchmark whose datasets are not catalogued yet is skipped (its results file by dataset).
    """
    from depthbench.protocol import resolvable_benchmarks

    out: dict[str, list[str]] = {}
    for name, protocols in resolvable_benchmarks().items():
        for protocol in protocols:
            if name not in out.setdefault(protocol.hash, []):
                out[protocol.hash].append(name)
    return out


def group_of(result: Result, benchmarks: dict[str, list[str]] | None = None, benchmark: str | None = None) -> str:
    """The store folder of ``result``: the benchmark whose protocols include its protocol hash,
    else its dataset. When several benchmarks share the protocol (e.g. KITTI's default protocol is
    in both ``kitti-eigen`` and ``zeroshot-v1``), ``benchmark`` must say which one the result is
    for: a benchmark page shows only the results filed under it (zero-shot is a claim about
    training data that a protocol hash cannot make)."""
    table = benchmark_hashes() if benchmarks is None else benchmarks
    matches = table.get(result.protocol_hash, [])
    if benchmark is not None:
        if benchmark not in matches:
            raise DataError(
                f"--benchmark {benchmark}: the result's protocol {result.protocol_hash[:12]} is not one of its "
                f"protocols (benchmarks with it: {', '.join(matches) or 'none'})"
            )
        return safe_name(benchmark)
    if len(matches) > 1:
        raise DataError(
            f"protocol {result.protocol_hash[:12]} belongs to benchmarks {', '.join(matches)}; choose one with --benchmark"
        )
    return safe_name(matches[0] if matches else result.protocol.dataset)


def check_result(result: Result, source: Path | str) -> None:
    """Refuse results the store cannot compare: other schema/protocol versions, unmarked sources."""
    if result.schema_version != RESULT_SCHEMA_VERSION:
        raise DataError(
            f"{source}: result schema_version {result.schema_version}, expected {RESULT_SCHEMA_VERSION}"
        )
    if result.protocol.version != PROTOCOL_SCHEMA_VERSION:
        raise DataError(
            f"{source}: protocol version {result.protocol.version} does not match the current "
            f"protocol version {PROTOCOL_SCHEMA_VERSION}; re-evaluate under the current protocol"
        )
    if result.kind == "reported" and result.reported is None:
        raise DataError(f"{source}: kind 'reported' needs a 'reported' source (paper, table, notes)")
    if result.kind == "measured" and result.reported is not None:
        raise DataError(f"{source}: a measured result must not carry a 'reported' source")
    if not result.metrics:
        raise DataError(f"{source}: result has no metrics")
    if result.kind == "measured" and not result.dataset.complete:
        raise DataError(
            f"{source}: evaluated {result.dataset.count} of the {result.dataset.split_size} frames of "
            f"{result.dataset.name}/{result.dataset.split} (--limit run); the leaderboard takes whole splits only"
        )


def add_result(
    path: str | Path,
    root: str | Path | None = None,
    visuals: str | Path | None = None,
    benchmarks: dict[str, list[str]] | None = None,
    benchmark: str | None = None,
) -> Path:
    """Validate the result JSON ``path`` and file it in the store ``root``; returns the new path.

    The per-sample parquet named by the result (beside ``path``) is copied along; ``visuals`` (a
    ``--save-visuals`` folder) is copied to ``<group>/visuals/<entry>/``; ``benchmark`` picks the
    group when the protocol is in several benchmarks (see ``group_of``). Never overwrites.
    """
    source = Path(path)
    result = Result.load(source)
    check_result(result, source)
    store = Path(root) if root is not None else default_results_root(for_writing=True)
    dest = store / group_of(result, benchmarks, benchmark) / entry_filename(result)
    if dest.exists():
        raise DataError(f"{source}: the store already has {dest} (results are never overwritten)")
    samples_src = source.parent / result.per_sample_file if result.per_sample_file else None
    if samples_src is not None and not samples_src.is_file():
        raise DataError(f"{source}: per-sample file {result.per_sample_file!r} not found beside it")
    visuals_src = Path(visuals) if visuals is not None else None
    if visuals_src is not None and not (visuals_src / VISUALS_INDEX).is_file():
        raise DataError(f"--visuals {visuals_src}: expected a --save-visuals folder with {VISUALS_INDEX}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if samples_src is not None:
        samples_name = dest.stem + ".samples.parquet"
        _copy_atomic(samples_src, dest.with_name(samples_name))
        result = result.model_copy(update={"per_sample_file": samples_name})
    if visuals_src is not None:
        target = dest.parent / VISUALS_DIR / dest.stem
        if target.exists():
            raise DataError(f"--visuals: {target} already exists (results are never overwritten)")
        temp = target.with_name("." + target.name + ".tmp")
        shutil.rmtree(temp, ignore_errors=True)
        shutil.copytree(visuals_src, temp)
        temp.rename(target)
    result.save(dest)
    return dest


def _copy_atomic(src: Path, dest: Path) -> None:
    temp = dest.with_name("." + dest.name + ".tmp")
    shutil.copyfile(src, temp)
    temp.replace(dest)


def load_store(root: str | Path | None = None) -> list[StoredResult]:
    """Every result JSON under ``root`` (``<group>/*.json``), validated, sorted by group and file.

    A file whose name or folder disagrees with its content (hand-filed or renamed) is refused,
    so the store stays what ``add_result`` would have made.
    """
    store = Path(root) if root is not None else default_results_root()
    if not store.is_dir():
        raise DataError(f"results folder {store} not found")
    out: list[StoredResult] = []
    for path in sorted(store.glob("*/*.json")):
        result = Result.load(path)
        check_result(result, path)
        expected = entry_filename(result)
        if path.name != expected:
            raise DataError(f"{path}: file name should be {expected!r} for this result (model, protocol hash, kind)")
        out.append(StoredResult(path=path, group=path.parent.name, result=result))
    return out
