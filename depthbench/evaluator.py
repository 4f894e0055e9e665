"""The evaluator: stream a prepared dataset through a model under an ``EvalProtocol``.

Per batch (``torch.inference_mode``, CPU or CUDA): RGB → float [0, 1]; model → ``Prediction`` of
its declared kind; optional flip test-time augmentation (average with the mirrored prediction of
the mirrored image, in output space); resize to the GT resolution (protocol's ``resize``); valid
mask = GT valid ∧ min_depth < g < max_depth ∧ crop; per-image alignment (``align``); clamp to
[min_depth, max_depth]; each metric family's additive statistics into streaming accumulators.
Ordinal targets skip alignment: the raw prediction, resized bilinearly, goes to WHDR.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from depthbench.align import align_with_info, resolve_alignment
from depthbench.catalog import get_manifest, gt_split_name
from depthbench.crops import crop_mask
from depthbench.data.dataset import PreparedDataset, load_dataset
from depthbench.errors import DataError, UsageError
from depthbench.metrics import METRICS, MetricAccumulator, MetricBatch, discover_metrics
from depthbench.models import DepthModel, create_model
from depthbench.protocol import EvalProtocol, default_protocol, get_benchmark
from depthbench.results import DatasetRecord, ModelRecord, Result, software_versions
from depthbench.types import DepthKind, Prediction, Sample


def resolve_device(device: str | None) -> torch.device:
    """``None``/"auto" → CUDA when present else CPU; "cuda" without CUDA is a usage error."""
    if device in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise UsageError(f"--device {device}: CUDA was requested but no CUDA device is available")
    try:
        return torch.device(device)
    except RuntimeError as exc:
        raise UsageError(f"--device {device!r}: expected cpu, cuda or cuda:N") from exc


def _batches(dataset: Sequence[Sample], batch_size: int, limit: int | None) -> Iterator[list[Sample]]:
    """Consecutive samples of equal image size, ``batch_size`` at a time, decoded one batch ahead."""
    total = len(dataset) if limit is None else min(limit, len(dataset))
    with ThreadPoolExecutor(max_workers=2) as pool:
        future = pool.submit(lambda: [dataset[i] for i in range(min(batch_size, total))])
        start = 0
        while start < total:
            samples = future.result()
            nxt = start + len(samples)
            future = pool.submit(lambda s=nxt: [dataset[i] for i in range(s, min(s + batch_size, total))])
            group: list[Sample] = []
            for sample in samples:
                if group and (sample.hw != group[0].hw or sample.kind != group[0].kind):
                    yield group
                    group = []
                group.append(sample)
            if group:
                yield group
            start = nxt


def _check_prediction(pred: Prediction, model_name: str, samples: list[Sample]) -> torch.Tensor:
    depth = pred.depth if isinstance(pred.depth, torch.Tensor) else torch.from_numpy(np.asarray(pred.depth))
    ids = ", ".join(s.meta.sample_id for s in samples[:3])
    if depth.ndim != 3 or depth.shape[0] != len(samples):
        raise DataError(
            f"model {model_name!r}: prediction has shape {tuple(depth.shape)}, expected {len(samples)}×H×W (samples {ids})"
        )
    if not bool(torch.isfinite(depth).all()):
        raise DataError(f"model {model_name!r}: prediction contains NaN or inf (samples {ids})")
    if pred.kind != DepthKind.UTSS and bool((depth < 0).any()):
        raise DataError(f"model {model_name!r}: {pred.kind.value} prediction has negative values (samples {ids})")
    return depth.float()


def _resize(depth: torch.Tensor, hw: tuple[int, int], mode: str) -> torch.Tensor:
    if tuple(depth.shape[-2:]) == hw:
        return depth
    if mode == "none":
        raise DataError(f"prediction is {tuple(depth.shape[-2:])} but ground truth is {hw} and protocol resize is 'none'")
    kwargs: dict[str, Any] = {} if mode == "nearest" else {"align_corners": False}
    return F.interpolate(depth[:, None], size=hw, mode=mode, **kwargs)[:, 0]


class _Evaluation:
    """State of one (model, protocol) run."""

    def __init__(self, protocol: EvalProtocol, families: list[str], visuals: Path | None = None,
                 visuals_limit: int = 0) -> None:
        self.protocol = protocol
        self.visuals_dir = visuals
        self.visuals_limit = visuals_limit
        self.visual_entries: list[dict[str, Any]] = []
        self.accumulators = {name: MetricAccumulator(METRICS.get(name)) for name in families}
        # Per-image statistics of every family (B×K blocks): the bootstrap resamples these.
        self.image_stats: dict[str, list[np.ndarray]] = {name: [] for name in families}
        self.rows: list[dict[str, Any]] = []
        self.status: Counter[str] = Counter()
        self.alignment = ""
        self._crops: dict[tuple[tuple[int, int], str], torch.Tensor] = {}

    def _crop(self, hw: tuple[int, int], device: torch.device) -> torch.Tensor:
        """The protocol's crop mask for images of size ``hw``, built once per size and device."""
        key = (hw, str(device))
        if key not in self._crops:
            self._crops[key] = torch.from_numpy(crop_mask(self.protocol.crop, *hw)).to(device)
        return self._crops[key]

    def add_dense(self, samples: list[Sample], images: np.ndarray, raw: torch.Tensor, kind: DepthKind,
                  device: torch.device) -> None:
        p = self.protocol
        hw = samples[0].hw
        gt = torch.from_numpy(np.stack([s.depth for s in samples])).to(device)  # type: ignore[misc]
        valid = torch.from_numpy(np.stack([s.valid for s in samples])).to(device)  # type: ignore[misc]
        crop = self._crop(hw, device)
        gt_safe = torch.nan_to_num(gt, nan=0.0)
        mask = valid & crop & (gt_safe > p.min_depth) & (gt_safe < p.max_depth)
        pred_raw = _resize(raw, hw, p.resize)
        mode = resolve_alignment(p.alignment, kind, samples[0].kind)
        self.alignment = mode
        aligned, info = align_with_info(pred_raw, gt_safe, mask, mode=mode, kind=kind, max_depth=p.max_depth)
        if p.clamp_prediction:
            aligned = aligned.clamp(p.min_depth, p.max_depth)
        elif bool((aligned[mask] <= 0).any()):
            raise DataError("aligned prediction has non-positive depth on valid pixels and clamp_prediction is off")
        self.status.update(info.status)
        self._save_visuals(samples, aligned, gt_safe, mask)
        batch = MetricBatch(
            pred=aligned,
            gt=gt_safe,
            mask=mask,
            pred_raw=pred_raw,
            pred_kind=kind,
            images=images,
            intrinsics=[s.intrinsics for s in samples],
            params={"min_depth": p.min_depth, "max_depth": p.max_depth},
        )
        per_image = self._update(batch, "dense")
        for b, sample in enumerate(samples):
            row = {"sample_id": sample.meta.sample_id, "scene_id": sample.meta.scene_id,
                   "align_scale": float(info.scale[b]), "align_shift": float(info.shift[b]),
                   "align_status": info.status[b], "valid_pixels": int(mask[b].sum())}
            row.update({k: float(v[b]) for k, v in per_image.items()})
            self.rows.append(row)

    def _save_visuals(self, samples: list[Sample], aligned: torch.Tensor, gt: torch.Tensor, mask: torch.Tensor) -> None:
        """PNG visualisations of the first ``visuals_limit`` dense samples (leaderboard galleries)."""
        if self.visuals_dir is None:
            return
        from depthbench.leaderboard.visuals import save_visuals

        for b, sample in enumerate(samples):
            if len(self.visual_entries) >= self.visuals_limit:
                return
            files = save_visuals(self.visuals_dir, sample, aligned[b], gt[b], mask[b], self.protocol.max_depth)
            self.visual_entries.append({"sample_id": sample.meta.sample_id, "files": files})

    def add_batch(self, net: DepthModel, name: str, samples: list[Sample], declared: DepthKind,
                  device: torch.device) -> None:
        """One batch: predict (with flip TTA when the protocol says so), check, then score.
        The one per-batch step of ``evaluate`` and of the trainer's sharded validation."""
        images_np = np.stack([s.image for s in samples])
        x = torch.from_numpy(images_np).to(device).permute(0, 3, 1, 2).float().div_(255.0)

        def predict(inputs: torch.Tensor) -> torch.Tensor:
            pred = net.predict(inputs)
            if pred.kind != declared:
                raise DataError(f"model {name!r} declared {declared.value} output but returned {pred.kind.value}")
            return _check_prediction(pred, name, samples).to(device)

        raw = predict(x)
        if self.protocol.flip_tta:
            raw = 0.5 * (raw + predict(x.flip(-1)).flip(-1))
        if samples[0].kind == DepthKind.ORDINAL:
            self.add_ordinal(samples, raw, declared)
        else:
            self.add_dense(samples, images_np, raw, declared, device)

    def add_ordinal(self, samples: list[Sample], raw: torch.Tensor, kind: DepthKind) -> None:
        pred_raw = _resize(raw, samples[0].hw, "bilinear")
        batch = MetricBatch(pred=pred_raw, pred_raw=pred_raw, pred_kind=kind,
                            ordinal_pairs=[s.ordinal_pairs for s in samples])  # type: ignore[misc]
        per_image = self._update(batch, "ordinal")
        for b, sample in enumerate(samples):
            row = {"sample_id": sample.meta.sample_id, "scene_id": sample.meta.scene_id,
                   "pairs": len(sample.ordinal_pairs) if sample.ordinal_pairs is not None else 0}
            row.update({k: float(v[b]) for k, v in per_image.items()})
            self.rows.append(row)

    def _update(self, batch: MetricBatch, target: str) -> dict[str, np.ndarray]:
        """Feed every family of ``target``; per-image values and ``stat.<family>.<name>`` columns."""
        from depthbench.stats import stat_column

        per_image: dict[str, np.ndarray] = {}
        for name, acc in self.accumulators.items():
            if acc.family.target == target:
                stats = np.atleast_2d(np.asarray(acc.family.stats(batch), dtype=np.float64))
                self.image_stats[name].append(stats)
                per_image.update(acc.update(stats))
                per_image.update({stat_column(name, s): stats[:, k] for k, s in enumerate(acc.family.stat_names)})
        return per_image

    def metrics(self) -> dict[str, float]:
        """Aggregates of every family that counted at least one image (families that skip every
        image, e.g. planarity without plane masks, report nothing rather than NaN)."""
        out: dict[str, float] = {}
        for acc in self.accumulators.values():
            if acc.images > 0:
                out.update(acc.compute(self.protocol.averaging))
        return out

    def intervals(self, n_boot: int, seed: int) -> dict[str, tuple[float, float]]:
        """95 % bootstrap intervals (resampling images) of every reported aggregate."""
        from depthbench.stats import bootstrap_intervals

        tables = {name: np.concatenate(blocks) for name, blocks in self.image_stats.items() if blocks}
        return bootstrap_intervals(tables, self.protocol.averaging, n_boot=n_boot, seed=seed)


def _model_name(model: Any, spec: str | None) -> str:
    return spec or getattr(getattr(model, "info", None), "name", type(model).__name__)


def evaluate(
    model: str | DepthModel,
    dataset: str | None = None,
    protocol: EvalProtocol | None = None,
    *,
    root: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
    batch_size: int = 4,
    device: str | None = None,
    output: str | Path | None = None,
    limit: int | None = None,
    progress: bool = True,
    model_options: dict[str, Any] | None = None,
    intervals: bool = True,
    n_boot: int = 1000,
    seed: int = 0,
    save_visuals: str | Path | None = None,
    visuals_limit: int = 8,
) -> Result:
    """Evaluate ``model`` (registered name, ``hf:``/``ckpt:``/``module:callable`` spec, or a
    ``DepthModel``) on ``dataset`` under ``protocol`` (default: the dataset's own, with
    ``overrides``). Writes ``output`` (result JSON) and ``<output stem>.samples.parquet`` when given.
    ``intervals``: fill ``Result.intervals`` with seeded 95 % bootstrap intervals (``n_boot``
    resamples of the images, ``seed``; see depthbench.stats).
    ``save_visuals``: a folder for PNG visualisations (RGB, GT, prediction, error, edges, normals;
    ``depthbench.leaderboard.visuals``) of the first ``visuals_limit`` dense samples.
    """
    if protocol is None:
        if dataset is None:
            raise UsageError("evaluate needs a dataset or a protocol")
        protocol = default_protocol(dataset, **(overrides or {}))
    elif overrides:
        protocol = protocol.with_overrides(overrides)
    torch_device = resolve_device(device)
    spec = model if isinstance(model, str) else None
    net = create_model(model, **(model_options or {})) if isinstance(model, str) else model
    name = _model_name(net, spec)
    if isinstance(net, torch.nn.Module):
        net = net.to(torch_device).eval()  # type: ignore[assignment]
    manifest = get_manifest(protocol.dataset)
    if hasattr(net, "fit_to_dataset"):
        net.fit_to_dataset(manifest)  # type: ignore[union-attr]
    split = gt_split_name(manifest, protocol.split, protocol.gt_variant)
    data: PreparedDataset = load_dataset(manifest.name, split, root)
    discover_metrics()
    families = [METRICS.canonical(m) for m in protocol.metrics]
    visuals_dir = Path(save_visuals) if save_visuals is not None else None
    if visuals_dir is not None and visuals_limit < 1:
        raise UsageError(f"visuals_limit must be at least 1, got {visuals_limit}")
    run = _Evaluation(protocol, families, visuals_dir, visuals_limit)
    declared = DepthKind(net.info.output_kind)
    total = len(data) if limit is None else min(limit, len(data))
    started = time.perf_counter()
    with torch.inference_mode(), tqdm(total=total, desc=f"{name} on {manifest.name}", unit="img",
                                      disable=not progress, leave=False) as bar:
        for samples in _batches(data, batch_size, limit):
            run.add_batch(net, name, samples, declared, torch_device)
            bar.update(len(samples))
    runtime = time.perf_counter() - started
    metrics = run.metrics()
    evaluated = sum(1 for r in run.rows if r.get("align_status", "ok") != "empty_mask" and r.get("pairs", 1) > 0)
    if evaluated == 0:
        raise DataError(f"dataset {manifest.name!r} split {split!r}: no image has a valid pixel under the protocol's mask")
    info = getattr(net, "info", None)
    result = Result(
        model=ModelRecord(
            name=name,
            output_kind=declared.value,
            parameters=sum(p.numel() for p in net.parameters()) if isinstance(net, torch.nn.Module) else None,
            info={"input_size": list(info.input_size) if info and info.input_size else None,
                  "paper": getattr(info, "paper", "")},
        ),
        dataset=DatasetRecord(name=manifest.name, split=split, fingerprint=data.fingerprint, count=total,
                              split_size=len(data)),
        alignment=run.alignment,
        protocol=protocol,
        protocol_hash=protocol.hash,
        metrics=metrics,
        intervals={k: v for k, v in run.intervals(n_boot, seed).items() if k in metrics} if intervals else {},
        images_evaluated=evaluated,
        images_skipped=len(run.rows) - evaluated,
        alignment_status=dict(run.status),
        versions=software_versions(),
        device=str(torch_device) if torch_device.type == "cpu" else torch.cuda.get_device_name(torch_device),
        runtime_s=round(runtime, 3),
    )
    if output is not None:
        result = write_result(result, run.rows, Path(output))
    if visuals_dir is not None and run.visual_entries:
        from depthbench.leaderboard.visuals import write_visuals_index

        write_visuals_index(visuals_dir, run.visual_entries, {
            "model": name, "dataset": manifest.name, "split": split, "protocol_hash": protocol.hash})
    result.__dict__["_rows"] = run.rows  # per-sample table for callers (not serialised)
    return result


def write_result(result: Result, rows: list[dict[str, Any]], output: Path) -> Result:
    """Write the per-sample parquet and the result JSON (both atomically)."""
    import os

    import pyarrow as pa
    import pyarrow.parquet as pq

    output.parent.mkdir(parents=True, exist_ok=True)
    samples_path = output.with_name(output.stem + ".samples.parquet")
    temp = samples_path.with_name("." + samples_path.name + ".tmp")
    pq.write_table(pa.Table.from_pylist(rows), temp, compression="zstd")
    os.replace(temp, samples_path)
    result = result.model_copy(update={"per_sample_file": samples_path.name})
    result.save(output)
    return result


def per_sample_rows(result: Result) -> list[dict[str, Any]]:
    """The per-sample metric rows of a result returned by ``evaluate`` in this process."""
    return list(result.__dict__.get("_rows", []))


def evaluate_benchmark(
    model: str | DepthModel,
    benchmark: str,
    *,
    roots: dict[str, str | Path] | None = None,
    output_dir: str | Path | None = None,
    **kwargs: Any,
) -> list[Result]:
    """Evaluate ``model`` on every protocol of ``benchmark``; ``roots`` maps dataset → prepared folder."""
    bench = get_benchmark(benchmark)
    net = create_model(model, **(kwargs.pop("model_options", None) or {})) if isinstance(model, str) else model
    results = []
    for protocol in bench.protocols():
        output = Path(output_dir) / f"{protocol.dataset}__{protocol.hash[:12]}.json" if output_dir else None
        root = (roots or {}).get(protocol.dataset)
        result = evaluate(net, protocol=protocol, root=root, output=output, **kwargs)
        if isinstance(model, str):
            result.model.name = model
            if output is not None:
                result.save(output)
        results.append(result)
    return results
