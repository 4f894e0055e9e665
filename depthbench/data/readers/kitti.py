"""Preparers of the KITTI Eigen split: ``kitti-eigen-raw`` (ground truth projected from the raw
velodyne scans) and ``kitti-eigen-annotated`` (the depth benchmark's annotated maps, Uhrig et al. 2017).

Raw layout (KITTI raw data, Geiger et al. 2013), relative to ``--source``::

    DATE/calib_cam_to_cam.txt, DATE/calib_velo_to_cam.txt
    DATE/DATE_drive_NNNN_sync/image_02/data/0000000069.png   (.jpg accepted: monodepth2 converts)
    DATE/DATE_drive_NNNN_sync/velodyne_points/data/0000000069.bin

Annotated layout (``data_depth_annotated.zip``), relative to ``--source``/``annotated_dir``::

    {train,val}/DATE_drive_NNNN_sync/proj_depth/groundtruth/image_02/0000000069.png

Split lists name frames in either of two public formats, both accepted:

- monodepth2 (Godard et al. 2019): ``2011_09_26/2011_09_26_drive_0002_sync 0000000069 l``
  (``l`` = camera 2, ``r`` = camera 3; the frame number may be unpadded);
- Eigen et al. 2014 / Garg et al. 2016: ``2011_09_26/2011_09_26_drive_0002_sync/image_02/data/0000000069.png
  <right image path>`` (the first path is used).

Intrinsics are (fx, fy, cx, cy) = (P[0,0], P[1,1], P[0,2], P[1,2]) of the drive date's
``P_rect_0k`` (k = 2 for the left colour camera), stored per row since they differ per date.
Depth is stored as 16-bit PNG with scale 256 (KITTI's own convention; 1/256 m resolution, 256 m range).
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from depthbench.catalog import DatasetManifest, gt_split_name
from depthbench.data.archives import resolve_source
from depthbench.data.card import write_dataset_card
from depthbench.data.prepared import PreparedWriter
from depthbench.data.readers.common import (
    fetch_split_list,
    read_bytes,
    read_png_array,
    read_rgb,
    sha256_bytes,
    split_is_done,
)
from depthbench.errors import DataError, UsageError
from depthbench.prepare import register_preparer
from depthbench.types import DepthKind, Intrinsics

KITTI_DEPTH_SCALE = 256.0
_MONODEPTH2_LINE = re.compile(r"^(\d{4}_\d{2}_\d{2})/(\d{4}_\d{2}_\d{2}_drive_\d{4}_sync)\s+(\d+)\s+([lr])$")
_EIGEN_PATH = re.compile(
    r"^(\d{4}_\d{2}_\d{2})/(\d{4}_\d{2}_\d{2}_drive_\d{4}_sync)/image_0([23])/data/(\d+)\.(png|jpg)$"
)


@dataclass(frozen=True)
class FrameRef:
    """One frame of a KITTI raw drive seen by camera ``cam`` (2 = left colour, 3 = right colour)."""

    date: str
    drive: str
    frame: int
    cam: int

    @property
    def frame_name(self) -> str:
        return f"{self.frame:010d}"

    @property
    def sample_id(self) -> str:
        return f"{self.drive}_{self.frame_name}_cam{self.cam}"

    def image_path(self, root: Path) -> Path:
        base = root / self.date / self.drive / f"image_0{self.cam}" / "data" / self.frame_name
        png = base.with_suffix(".png")
        return png if png.exists() or not base.with_suffix(".jpg").exists() else base.with_suffix(".jpg")

    def velodyne_path(self, root: Path) -> Path:
        return root / self.date / self.drive / "velodyne_points" / "data" / f"{self.frame_name}.bin"

    def annotated_path(self, annotated_root: Path) -> Path | None:
        """The annotated map in the ``train`` or ``val`` folder of the depth benchmark, if any."""
        for part in ("val", "train"):
            path = (
                annotated_root
                / part
                / self.drive
                / "proj_depth"
                / "groundtruth"
                / f"image_0{self.cam}"
                / f"{self.frame_name}.png"
            )
            if path.is_file():
                return path
        return None


def parse_split_list(text: str, where: str) -> list[FrameRef]:
    """Frames of a split list in monodepth2 or Eigen format (module docstring); duplicates dropped."""
    frames: list[FrameRef] = []
    seen: set[FrameRef] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = _MONODEPTH2_LINE.match(line)
        if m:
            ref = FrameRef(m.group(1), m.group(2), int(m.group(3)), 2 if m.group(4) == "l" else 3)
        else:
            e = _EIGEN_PATH.match(line.split()[0])
            if e is None:
                raise DataError(
                    f"{where}: line {number} {line[:80]!r} is neither 'DATE/DRIVE FRAME l|r' nor an Eigen image path"
                )
            ref = FrameRef(e.group(1), e.group(2), int(e.group(4)), int(e.group(3)))
        if ref.drive[:10] != ref.date:
            raise DataError(f"{where}: line {number}: drive {ref.drive} does not belong to date {ref.date}")
        if ref not in seen:
            seen.add(ref)
            frames.append(ref)
    if not frames:
        raise DataError(f"{where}: split list names no frames")
    return frames


def read_rect_intrinsics(date_dir: Path, cam: int) -> Intrinsics:
    """(fx, fy, cx, cy) of ``P_rect_0{cam}`` in ``DATE/calib_cam_to_cam.txt``."""
    path = date_dir / "calib_cam_to_cam.txt"
    text = read_bytes(path, "KITTI calibration file").decode("utf-8", errors="replace")
    key = f"P_rect_0{cam}"
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if sep and name.strip() == key:
            try:
                p = np.array([float(v) for v in rest.split()], dtype=np.float64)
            except ValueError:
                break
            if p.size == 12:
                p = p.reshape(3, 4)
                return Intrinsics(float(p[0, 0]), float(p[1, 1]), float(p[0, 2]), float(p[1, 2]))
            break
    raise DataError(f"{path}: expected key {key!r} with 12 numbers")


def resolve_split_frames(
    manifest: DatasetManifest,
    split: str,
    out: Path,
    split_file: str | None,
    split_lists: dict[str, dict[str, Any]],
) -> tuple[list[FrameRef], str]:
    """Frames of ``split`` and the sha256 of the list they come from: ``split_file`` when given, else
    the pinned public list of the recipe (fetched once into ``out/.splits/``, checked against its
    sha256 when pinned and against the expected frame count)."""
    if split_file is not None:
        path = Path(split_file)
        data = read_bytes(path, "split list")
        return parse_split_list(data.decode("utf-8"), str(path)), sha256_bytes(data)
    if split not in split_lists:
        raise UsageError(
            f"dataset {manifest.name!r}: no pinned list for split {split!r} (lists: {', '.join(split_lists) or 'none'}); "
            "pass --option split_file=PATH"
        )
    spec = split_lists[split]
    path = fetch_split_list(str(spec["url"]), spec.get("sha256"), out / ".splits" / f"{split}.txt")
    data = path.read_bytes()
    frames = parse_split_list(data.decode("utf-8"), str(path))
    expected = spec.get("count")
    if expected is not None and len(frames) != int(expected):
        raise DataError(f"{path}: {len(frames)} frames, expected {expected} (from {spec['url']})")
    return frames, sha256_bytes(data)


def _single_split_file(splits: list[str], split_file: str | None) -> None:
    if split_file is not None and len(splits) != 1:
        raise UsageError(f"split_file={split_file}: give exactly one split with it (got splits={splits})")


def _announce(message: str) -> None:
    print(message, file=sys.stderr)


@register_preparer("kitti-eigen-raw")
def prepare_kitti_eigen_raw(
    manifest: DatasetManifest,
    source: Path | None,
    out: Path,
    *,
    splits: list[str] | None = None,
    split_file: str | None = None,
    split_lists: dict[str, dict[str, Any]] | None = None,
    gt_variants: dict[str, list[str]] | None = None,
    overwrite: bool = False,
) -> Path:
    """Project each listed frame's velodyne scan into camera 2 (or 3) with
    ``depthbench.prep.kitti.velodyne_to_depth``: GT variant ``default`` = camera z, nearest point per
    pixel; ``legacy_monodepth2`` = monodepth2's convention (lidar x, round−1 pixels). ``gt_variants``
    maps split → variants to write (default: the manifest's default variant only)."""
    from depthbench.prep.kitti import velodyne_to_depth

    root = resolve_source(source, out)
    if root is None:
        raise UsageError(f"dataset {manifest.name!r} needs --source (KITTI raw folder with DATE/ subfolders)")
    splits = list(splits or [manifest.eval.split])
    _single_split_file(splits, split_file)
    for split in splits:
        variants = (gt_variants or {}).get(split, [manifest.default_gt_variant])
        targets = {v: gt_split_name(manifest, split, v) for v in variants}
        todo = {v: name for v, name in targets.items() if not split_is_done(out, name, overwrite)}
        if not todo:
            _announce(
                f"{manifest.name}: split(s) {', '.join(targets.values())} already prepared (overwrite=true to redo)"
            )
            continue
        frames, list_sha = resolve_split_frames(manifest, split, out, split_file, split_lists or {})
        for ref in frames:  # fail fast, naming the first absent file, before any work
            for path in (
                ref.image_path(root),
                ref.velodyne_path(root),
                root / ref.date / "calib_cam_to_cam.txt",
            ):
                if not path.is_file():
                    raise DataError(f"{path}: listed in split {split!r} ({ref.sample_id}) but not found")
        writers = {
            v: PreparedWriter(
                out, manifest.name, name, depth_storage="png16", depth_scale=KITTI_DEPTH_SCALE, overwrite=True
            )
            for v, name in todo.items()
        }
        intrinsics_cache: dict[tuple[str, int], Intrinsics] = {}
        try:
            for ref in tqdm(frames, desc=f"{manifest.name}/{split}", unit="frame", leave=False):
                rgb, hw = read_rgb(ref.image_path(root))
                velo_path = ref.velodyne_path(root)
                key = (ref.date, ref.cam)
                if key not in intrinsics_cache:
                    intrinsics_cache[key] = read_rect_intrinsics(root / ref.date, ref.cam)
                checksum = sha256_bytes(rgb, read_bytes(velo_path, "velodyne scan"))
                for variant, writer in writers.items():
                    depth = velodyne_to_depth(
                        root / ref.date,
                        velo_path,
                        ref.cam,
                        image_hw=hw,
                        legacy_monodepth2=(variant == "legacy_monodepth2"),
                    )
                    writer.add(
                        sample_id=ref.sample_id,
                        rgb=rgb,
                        image_hw=hw,
                        depth=depth,
                        kind=manifest.kind,
                        intrinsics=intrinsics_cache[key],
                        scene_id=ref.drive,
                        frame_id=ref.frame_name,
                        source_sha256=checksum,
                        extra={
                            "date": ref.date,
                            "cam": ref.cam,
                            "gt": variant,
                            "split_list_sha256": list_sha,
                        },
                    )
        except BaseException:
            for writer in writers.values():
                writer.abort()
            raise
        for writer in writers.values():
            writer.close()
    write_dataset_card(out, manifest)
    return out


@register_preparer("kitti-eigen-annotated")
def prepare_kitti_eigen_annotated(
    manifest: DatasetManifest,
    source: Path | None,
    out: Path,
    *,
    splits: list[str] | None = None,
    split_file: str | None = None,
    split_lists: dict[str, dict[str, Any]] | None = None,
    raw_dir: str = ".",
    annotated_dir: str = "data_depth_annotated",
    overwrite: bool = False,
) -> Path:
    """Pair each listed frame's RGB (``raw_dir``) with its annotated map (``annotated_dir``): 16-bit
    PNG, metres = value / 256, 0 = invalid, stored bit-exact. Listed frames without an annotated
    map are skipped and counted (45 of the 697 Eigen test frames have none: 652 remain); a listed
    frame whose RGB image or calibration is missing is an error."""
    base = resolve_source(source, out)
    if base is None:
        raise UsageError(f"dataset {manifest.name!r} needs --source (KITTI raw + data_depth_annotated)")
    raw_root, annotated_root = base / raw_dir, base / annotated_dir
    if not annotated_root.is_dir():
        raise DataError(f"{annotated_root}: annotated depth folder not found (option annotated_dir)")
    splits = list(splits or [manifest.eval.split])
    _single_split_file(splits, split_file)
    for split in splits:
        if split_is_done(out, split, overwrite):
            _announce(f"{manifest.name}: split {split} already prepared (overwrite=true to redo)")
            continue
        frames, list_sha = resolve_split_frames(manifest, split, out, split_file, split_lists or {})
        skipped = 0
        intrinsics_cache: dict[tuple[str, int], Intrinsics] = {}
        with PreparedWriter(
            out, manifest.name, split, depth_storage="png16", depth_scale=KITTI_DEPTH_SCALE, overwrite=True
        ) as writer:
            for ref in tqdm(frames, desc=f"{manifest.name}/{split}", unit="frame", leave=False):
                gt_path = ref.annotated_path(annotated_root)
                if gt_path is None:
                    skipped += 1
                    continue
                image_path = ref.image_path(raw_root)
                if not image_path.is_file():
                    raise DataError(
                        f"{image_path}: listed in split {split!r} ({ref.sample_id}) but not found"
                    )
                rgb, hw = read_rgb(image_path)
                raw = read_png_array(gt_path, "annotated depth PNG")
                if raw.dtype != np.uint16:
                    raise DataError(f"{gt_path}: expected a 16-bit PNG (depth × 256), got {raw.dtype}")
                if raw.shape != hw:
                    raise DataError(
                        f"{gt_path}: depth is {raw.shape[0]}×{raw.shape[1]} but {image_path} is {hw[0]}×{hw[1]}"
                    )
                key = (ref.date, ref.cam)
                if key not in intrinsics_cache:
                    intrinsics_cache[key] = read_rect_intrinsics(raw_root / ref.date, ref.cam)
                writer.add(
                    sample_id=ref.sample_id,
                    rgb=rgb,
                    image_hw=hw,
                    depth=raw,
                    kind=DepthKind.METRIC,
                    intrinsics=intrinsics_cache[key],
                    scene_id=ref.drive,
                    frame_id=ref.frame_name,
                    source_sha256=sha256_bytes(rgb, gt_path.read_bytes()),
                    extra={
                        "date": ref.date,
                        "cam": ref.cam,
                        "split_list_sha256": list_sha,
                        "annotated": gt_path.relative_to(annotated_root).as_posix(),
                    },
                )
        if skipped:
            _announce(
                f"{manifest.name}/{split}: {writer.count} frames with annotated GT, {skipped} listed frames have none"
            )
        expected = manifest.splits[split].count if split in manifest.splits else None
        if split_file is None and expected is not None and writer.count != expected:
            # The official list with complete data gives 652; fewer means annotated maps are missing
            # (e.g. only the val part of data_depth_annotated was extracted).
            _announce(f"warning: {manifest.name}/{split}: {writer.count} frames, the official split has {expected}")
    write_dataset_card(out, manifest)
    return out
