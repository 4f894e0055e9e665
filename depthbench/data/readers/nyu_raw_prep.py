"""Preparer of ``nyu-v2-raw``: NYU Depth v2 raw scene folders → projected (``raw``) and
colorization-filled (``filled``) depth in the RGB camera, through the resumable shard executor.

Per synchronised frame (see ``nyu_raw`` for each step's definition): read the PPM and the PGM
(a truncated or corrupt file skips the frame, counted and reported, never a crash), raw disparity →
metres, project into the RGB camera, undistort the RGB image, crop the blank border (default:
the ``nyu-eigen`` box, where the projection is valid; intrinsics shifted accordingly), and fill the
holes with colorization inpainting (``depthbench.prep.colorization``) for the ``filled`` variant.

Splits are scene-level. The labeled set's official split assigns its 464 scenes' frames to 249
training and 215 test scenes; the test scene names come from the labeled set itself
(``labeled_dir``: ``nyu_depth_v2_labeled.mat`` + ``splits.mat``, the scenes of the ``testNdxs``
frames) or from a text file (``test_scenes_file``, one name per line). ``train`` = every scene folder
found minus the test scenes, ``test`` = the test scenes found. No scene list is shipped: writing the
249 names from memory could not be checked.

Resumable: each split runs as shards of ``shard_size`` frames (``depthbench.prep.shards``) in
``OUT/.work/SPLIT/``; a rerun skips finished shards; the prepared split appears under ``OUT/data``
only when every shard is done.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from depthbench.catalog import DatasetManifest, gt_split_name
from depthbench.crops import crop_box
from depthbench.data.card import write_dataset_card
from depthbench.data.prepared import SCHEMA, PreparedWriter, shard_name, write_json_atomic
from depthbench.data.readers.nyu import LABELED_MAT, SPLITS_MAT, NyuLabeledMat, read_nyu_splits
from depthbench.data.readers.nyu_raw import (
    KinectCalibration,
    decode_pnm,
    decode_raw_depth,
    project_depth_to_rgb,
    raw_to_metres,
    scan_scene,
    undistort_rgb,
)
from depthbench.errors import DataError, UsageError
from depthbench.prepare import register_preparer

Item = tuple[
    str, str, str, float, float, str
]  # scene folder, rgb file, depth file, t_rgb, t_depth, sample id


def find_scene_folders(source: Path) -> dict[str, Path]:
    """Scene name → folder, for every folder (at depth 1 or 2 under ``source``) holding ``d-*.pgm``."""
    folders: dict[str, Path] = {}
    for pattern in ("*/d-*.pgm", "*/*/d-*.pgm"):
        for pgm in source.glob(pattern):
            folder = pgm.parent
            if folder.name in folders and folders[folder.name] != folder:
                raise DataError(
                    f"{source}: scene {folder.name!r} appears twice ({folders[folder.name]} and {folder})"
                )
            folders[folder.name] = folder
    if not folders:
        raise DataError(f"{source}: no NYU raw scene folders (folders with d-*.pgm files) found")
    return dict(sorted(folders.items()))


def read_test_scenes(labeled_dir: str | None, test_scenes_file: str | None) -> set[str]:
    """Scene names of the labeled set's test split, from the labeled .mat + splits.mat or a list."""
    if test_scenes_file:
        path = Path(test_scenes_file)
        if not path.is_file():
            raise DataError(f"{path}: test scene list not found")
        names = {
            line.strip()
            for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        }
        if not names:
            raise DataError(f"{path}: test scene list is empty")
        return names
    if labeled_dir:
        folder = Path(labeled_dir)
        with NyuLabeledMat(folder / LABELED_MAT) as mat:
            indices = read_nyu_splits(folder / SPLITS_MAT, mat.count)["test"]
            names = {mat.scene(int(i)) for i in indices}
        if "" in names:
            raise DataError(f"{folder / LABELED_MAT}: has no 'scenes' names; pass test_scenes_file instead")
        return names
    raise UsageError(
        "nyu-v2-raw: scene-level splits need the labeled set's test scenes: "
        "pass option labeled_dir (folder with nyu_depth_v2_labeled.mat + splits.mat) or test_scenes_file"
    )


def _frame_arrays(item: Item, options: dict[str, Any]) -> tuple[Any, Any, Any, str]:
    """(cropped RGB, projected depth, intrinsics, sha256) of one frame; DataError when unreadable."""
    folder, rgb_file, depth_file = Path(item[0]), item[1], item[2]
    calib = KinectCalibration()
    rgb_bytes = _read(folder / rgb_file)
    depth_bytes = _read(folder / depth_file)
    rgb = decode_pnm(rgb_bytes, folder / rgb_file)
    if rgb.ndim != 3 or rgb.dtype.itemsize != 1:
        raise DataError(f"{folder / rgb_file}: expected an 8-bit colour PPM")
    raw = decode_raw_depth(depth_bytes, folder / depth_file, options["byte_order"])
    if raw.shape != rgb.shape[:2]:
        raise DataError(f"{folder / depth_file}: depth is {raw.shape}, RGB {rgb_file} is {rgb.shape[:2]}")
    depth = project_depth_to_rgb(raw_to_metres(raw), calib, undistort=options["undistort"])
    if options["undistort"]:
        rgb = undistort_rgb(rgb, calib)
    top, bottom, left, right = crop_box(options["crop"], *rgb.shape[:2])
    intrinsics = calib.rgb.cropped(top, left)
    digest = hashlib.sha256(rgb_bytes)
    digest.update(depth_bytes)
    return (
        rgb[top:bottom, left:right].copy(),
        depth[top:bottom, left:right].copy(),
        intrinsics,
        digest.hexdigest(),
    )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from exc


def raw_shard_job(
    index: int, items: list[Item], *, dataset: str, splits: dict[str, str], work: str, options: dict[str, Any]
) -> str | pa.Table:
    """One shard: write each variant's parquet (``splits``: variant → prepared split name); the
    first variant's file is returned to the executor, the others are committed beside it first."""
    from depthbench.prep.colorization import fill_depth_colorization

    work_dir = Path(work)
    temp = work_dir / f"tmp-{index:05d}-{os.getpid()}"
    shutil.rmtree(temp, ignore_errors=True)
    writers = {v: PreparedWriter(temp / v, dataset, name, depth_storage="f32") for v, name in splits.items()}
    skipped: list[str] = []
    try:
        for item in items:
            try:
                rgb, depth, intrinsics, digest = _frame_arrays(item, options)
                if not (depth > 0).any():
                    raise DataError(f"{Path(item[0]) / item[2]}: no valid depth after projection")
                filled = (
                    fill_depth_colorization(rgb, depth, rtol=options["colorization_rtol"])
                    if "filled" in writers
                    else None
                )
            except DataError as exc:
                skipped.append(str(exc))
                continue
            for variant, writer in writers.items():
                writer.add(
                    sample_id=item[5],
                    rgb=rgb,
                    depth=filled if variant == "filled" else depth,
                    kind=options["kind"],
                    intrinsics=intrinsics,
                    scene_id=Path(item[0]).name,
                    frame_id=item[5].split("/", 1)[1],
                    source_sha256=digest,
                    extra={
                        "gt_variant": variant,
                        "rgb_file": item[1],
                        "depth_file": item[2],
                        "rgb_time": item[3],
                        "depth_time": item[4],
                    },
                )
        outputs: dict[str, str | pa.Table] = {}
        for variant, writer in writers.items():
            if writer.count == 0:
                writer.abort()
                outputs[variant] = SCHEMA.empty_table()
                continue
            writer.close()
            files = sorted((temp / variant / "data").glob("*.parquet"))
            if len(files) != 1:
                raise DataError(
                    f"{temp}: shard {index} produced {len(files)} parquet files; lower shard_size"
                )
            outputs[variant] = str(files[0])
        first, *rest = list(splits)
        for variant in rest:
            _commit_side(outputs[variant], work_dir / f"{variant}-{index:05d}.parquet")
        write_json_atomic(work_dir / f"skipped-{index:05d}.json", skipped)
        return outputs[first]
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise


def _commit_side(result: str | pa.Table, path: Path) -> None:
    if isinstance(result, pa.Table):
        temp = path.with_name(f".{path.name}.tmp")
        pq.write_table(result, temp)
        os.replace(temp, path)
    else:
        os.replace(result, path)


def _publish(out: Path, dataset: str, split: str, shard_files: list[Path]) -> int:
    """Move finished shard files into ``out/data`` as split ``split`` and write its meta."""
    data_dir = out / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    nonempty = [p for p in shard_files if pq.ParquetFile(p).metadata.num_rows > 0]
    if not nonempty:
        raise DataError(f"{dataset}/{split}: every frame was skipped as unreadable")
    digest, count = hashlib.sha256(), 0
    for path in nonempty:
        table = pq.read_table(path, columns=["sample_id", "source_sha256"])
        for sample_id, source in zip(table["sample_id"].to_pylist(), table["source_sha256"].to_pylist()):
            digest.update(sample_id.encode() + b"\0" + source.encode())
            count += 1
    for old in data_dir.glob(f"{split}-*-of-*.parquet"):
        old.unlink()
    for i, path in enumerate(nonempty):
        os.replace(path, data_dir / shard_name(split, i, len(nonempty)))
    from depthbench import __version__

    write_json_atomic(
        out / "meta" / f"{split}.json",
        {
            "dataset": dataset,
            "split": split,
            "count": count,
            "fingerprint": digest.hexdigest(),
            "depth_storage": "f32",
            "depth_scale": None,
            "shards": len(nonempty),
            "depthbench_version": __version__,
        },
    )
    return count


@register_preparer("nyu-v2-raw")
def prepare_nyu_v2_raw(
    manifest: DatasetManifest,
    source: Path | None,
    out: Path,
    *,
    splits: list[str] | None = None,
    gt_variants: list[str] | None = None,
    labeled_dir: str | None = None,
    test_scenes_file: str | None = None,
    scenes: list[str] | None = None,
    stride: int = 1,
    primary: str = "depth",
    byte_order: str = "auto",
    undistort: bool = True,
    crop: str = "nyu-eigen",
    colorization_rtol: float = 1e-6,
    shard_size: int = 64,
    workers: int | None = None,
    executor: str = "local",
    ray_address: str | None = None,
) -> Path:
    """Prepare ``splits`` (default train) × ``gt_variants`` (default filled, raw); every
    ``stride``-th synchronised frame of each scene; ``scenes`` restricts to some scene names."""
    from depthbench.prep.shards import run_shards

    if source is None:
        raise UsageError(f"dataset {manifest.name!r} needs --source (folder of raw scene folders)")
    if stride < 1:
        raise UsageError(f"stride: expected ≥ 1, got {stride}")
    if crop not in ("none", "nyu-eigen", "densedepth"):
        raise UsageError(f"crop {crop!r}: expected none, nyu-eigen or densedepth")
    variants = gt_variants or list(manifest.gt_variants)
    for variant in variants:
        if variant not in manifest.gt_variants:
            raise UsageError(f"gt_variants: {variant!r} is not one of {', '.join(manifest.gt_variants)}")
    folders = find_scene_folders(Path(source))
    if scenes is not None:
        missing = sorted(set(scenes) - set(folders))
        if missing:
            raise DataError(f"{source}: scene folder(s) {', '.join(missing)} not found")
        folders = {k: v for k, v in folders.items() if k in set(scenes)}
    test_scenes = read_test_scenes(labeled_dir, test_scenes_file)
    options = {
        "byte_order": byte_order,
        "undistort": undistort,
        "crop": crop,
        "colorization_rtol": colorization_rtol,
        "kind": manifest.kind.value,
    }
    for split in splits or ["train"]:
        if split not in ("train", "test"):
            raise UsageError(f"splits: {split!r} is not one of train, test")
        chosen = {k: v for k, v in folders.items() if (k in test_scenes) == (split == "test")}
        if not chosen:
            raise DataError(f"{source}: no scene folders for split {split!r}")
        items: list[Item] = []
        for name, folder in chosen.items():
            frames = scan_scene(folder, primary)
            for frame in frames[::stride]:
                stem = Path(frame.depth_file if primary == "depth" else frame.rgb_file).stem
                items.append(
                    (
                        str(folder),
                        frame.rgb_file,
                        frame.depth_file,
                        frame.rgb_time,
                        frame.depth_time,
                        f"{name}/{stem}",
                    )
                )
        if not items:
            raise DataError(f"{source}: split {split!r} has no synchronised frames")
        names = {v: gt_split_name(manifest, split, v) for v in variants}
        work = Path(out) / ".work" / split
        work.mkdir(parents=True, exist_ok=True)
        config = {"variants": variants, "options": options, "stride": stride, "primary": primary}
        _check_config(work, config)
        job = functools.partial(
            raw_shard_job, dataset=manifest.name, splits=names, work=str(work), options=options
        )
        first_paths = run_shards(
            job,
            items,
            work,
            shard_size=shard_size,
            name=variants[0],
            executor=executor,
            workers=workers,
            ray_address=ray_address,
        )
        skipped = [msg for p in sorted(work.glob("skipped-*.json")) for msg in json.loads(p.read_text())]
        _publish(Path(out), manifest.name, names[variants[0]], first_paths)
        for variant in variants[1:]:
            side = [work / f"{variant}-{i:05d}.parquet" for i in range(len(first_paths))]
            _publish(Path(out), manifest.name, names[variant], side)
        shutil.rmtree(work)
        if skipped:
            warnings.warn(
                f"nyu-v2-raw/{split}: skipped {len(skipped)} unreadable frame(s), e.g. {skipped[0]}",
                stacklevel=2,
            )
    shutil.rmtree(Path(out) / ".work", ignore_errors=True)
    write_dataset_card(Path(out), manifest)
    return Path(out)


def _check_config(work: Path, config: dict[str, Any]) -> None:
    """Refuse to resume shards made with other options (they would mix two preparations)."""
    path = work / "config.json"
    if path.is_file():
        previous = json.loads(path.read_text())
        if previous != json.loads(json.dumps(config)):
            raise UsageError(
                f"{path}: unfinished shards were made with {previous}; rerun with those options or delete {work}"
            )
    else:
        write_json_atomic(path, config)
