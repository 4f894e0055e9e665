"""Preparer of ``sintel``: MPI Sintel depth (Butler et al., ECCV 2012), the 1064 training frames.

Layout under the source folder (the ``MPI-Sintel-complete`` images and the
``MPI-Sintel-depth-training`` archive unpacked into one folder)::

    training/depth/<scene>/frame_NNNN.dpt          depth
    training/camdata_left/<scene>/frame_NNNN.cam   camera
    training/clean/<scene>/frame_NNNN.png          RGB, clean pass
    training/final/<scene>/frame_NNNN.png          RGB, final pass (motion blur, fog, ...)

File formats (the Sintel SDK's documentation of its I/O routines; little-endian):

- ``.dpt``: float32 TAG_FLOAT = 202021.25 (the bytes "PIEH"), int32 width, int32 height, then
  width·height float32 depths, row-major, in the scene's units (metres for this benchmark's use).
- ``.cam``: float32 TAG_FLOAT, then 9 float64 — the 3×3 intrinsic matrix M, row-major — then
  12 float64 — the 3×4 extrinsic matrix N = [R|t] (world → camera), row-major.

Depth is float-native, so it is stored as float32 (lossless). The render pass is a GT variant in
the catalog sense (the depth is the same; the image differs): ``final`` is the default
(split ``test``), ``clean`` is prepared as ``test_clean``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from depthbench.catalog import DatasetManifest, gt_split_name
from depthbench.data.card import write_dataset_card
from depthbench.data.codecs import decode_image
from depthbench.data.prepared import PreparedWriter
from depthbench.errors import DataError, UsageError
from depthbench.prepare import register_preparer
from depthbench.types import Intrinsics

TAG_FLOAT = np.float32(202021.25)
_MAX_SIDE = 1 << 15  # refuse absurd sizes from a corrupt header before allocating


def _read_tag(data: bytes, path: Path, what: str) -> None:
    if len(data) < 4 or np.frombuffer(data[:4], "<f4")[0] != TAG_FLOAT:
        raise DataError(f"{path}: not a Sintel {what} file (first 4 bytes are not TAG_FLOAT 202021.25)")


def read_dpt(path: Path) -> np.ndarray:
    """``.dpt`` → float32 H×W depth (header: TAG_FLOAT, int32 width, int32 height)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    _read_tag(data, path, ".dpt depth")
    if len(data) < 12:
        raise DataError(f"{path}: truncated .dpt header")
    width, height = (int(v) for v in np.frombuffer(data[4:12], "<i4"))
    if not (0 < width < _MAX_SIDE and 0 < height < _MAX_SIDE):
        raise DataError(f"{path}: implausible .dpt size {width}×{height}")
    expected = 12 + 4 * width * height
    if len(data) != expected:
        raise DataError(
            f"{path}: .dpt of {width}×{height} needs {expected} bytes, file has {len(data)} (truncated or corrupt)"
        )
    return np.frombuffer(data[12:], "<f4").reshape(height, width).astype(np.float32)


def read_cam(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``.cam`` → (M 3×3 intrinsics, N 3×4 extrinsics), float64."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    _read_tag(data, path, ".cam camera")
    if len(data) != 4 + 8 * 21:
        raise DataError(
            f"{path}: .cam must be {4 + 8 * 21} bytes (tag + 9 + 12 float64), file has {len(data)}"
        )
    values = np.frombuffer(data[4:], "<f8")
    return values[:9].reshape(3, 3).copy(), values[9:].reshape(3, 4).copy()


def write_dpt(path: Path, depth: np.ndarray) -> None:
    """Inverse of ``read_dpt`` (used to make test data in the real format)."""
    height, width = depth.shape
    Path(path).write_bytes(
        TAG_FLOAT.astype("<f4").tobytes()
        + np.array([width, height], "<i4").tobytes()
        + depth.astype("<f4").tobytes()
    )


def write_cam(path: Path, intrinsic: np.ndarray, extrinsic: np.ndarray) -> None:
    """Inverse of ``read_cam``."""
    Path(path).write_bytes(
        TAG_FLOAT.astype("<f4").tobytes()
        + np.asarray(intrinsic, "<f8").tobytes()
        + np.asarray(extrinsic, "<f8").tobytes()
    )


def intrinsics_from_matrix(m: np.ndarray, path: Path) -> Intrinsics:
    if not (m[2, 2] == 1 and m[0, 1] == 0 and m[1, 0] == 0 and m[0, 0] > 0 and m[1, 1] > 0):
        raise DataError(f"{path}: intrinsic matrix is not [[fx,0,cx],[0,fy,cy],[0,0,1]]: {m.tolist()}")
    return Intrinsics(float(m[0, 0]), float(m[1, 1]), float(m[0, 2]), float(m[1, 2]))


def list_sintel_frames(root: Path) -> list[tuple[str, str]]:
    """(scene, frame stem) of every ``training/depth/<scene>/*.dpt``, sorted."""
    depth_root = root / "training" / "depth"
    if not depth_root.is_dir():
        raise DataError(
            f"{depth_root}: folder not found (unpack MPI-Sintel-depth-training into the source folder)"
        )
    frames = [(p.parent.name, p.stem) for p in sorted(depth_root.glob("*/*.dpt"))]
    if not frames:
        raise DataError(f"{depth_root}: no .dpt files found")
    return frames


@register_preparer("sintel")
def prepare_sintel(
    manifest: DatasetManifest,
    source: Path | None,
    out: Path,
    *,
    passes: list[str] | None = None,
    scenes: list[str] | None = None,
) -> Path:
    """Prepare the training frames (split ``test``) once per render pass in ``passes`` (default
    final, clean); ``scenes`` restricts to some sequences."""
    if source is None:
        raise UsageError(
            f"dataset {manifest.name!r} needs --source (folder with training/depth, training/clean, ...)"
        )
    root = Path(source)
    frames = list_sintel_frames(root)
    if scenes is not None:
        missing = sorted(set(scenes) - {s for s, _ in frames})
        if missing:
            raise DataError(f"{root / 'training' / 'depth'}: scene(s) {', '.join(missing)} not found")
        frames = [f for f in frames if f[0] in set(scenes)]
    for render_pass in passes or list(manifest.gt_variants):
        if render_pass not in manifest.gt_variants:
            raise UsageError(f"passes: {render_pass!r} is not one of {', '.join(manifest.gt_variants)}")
        split = gt_split_name(manifest, "test", render_pass)
        with PreparedWriter(out, manifest.name, split, depth_storage="f32", overwrite=True) as writer:
            for scene, stem in frames:
                depth_path = root / "training" / "depth" / scene / f"{stem}.dpt"
                cam_path = root / "training" / "camdata_left" / scene / f"{stem}.cam"
                rgb_path = root / "training" / render_pass / scene / f"{stem}.png"
                depth = read_dpt(depth_path)
                intrinsic, extrinsic = read_cam(cam_path)
                try:
                    rgb_bytes = rgb_path.read_bytes()
                except FileNotFoundError as exc:
                    raise DataError(
                        f"{rgb_path}: file not found ({render_pass} pass image of {depth_path.name})"
                    ) from exc
                rgb = decode_image(rgb_bytes, str(rgb_path))
                if rgb.shape[:2] != depth.shape:
                    raise DataError(
                        f"{rgb_path}: image is {rgb.shape[:2]}, depth {depth_path} is {depth.shape}"
                    )
                digest = hashlib.sha256(rgb_bytes)
                digest.update(depth.tobytes())
                writer.add(
                    sample_id=f"{scene}/{stem}",
                    rgb=rgb_bytes,
                    image_hw=depth.shape,
                    depth=depth,
                    kind=manifest.kind,
                    intrinsics=intrinsics_from_matrix(intrinsic, cam_path),
                    scene_id=scene,
                    frame_id=stem,
                    source_sha256=digest.hexdigest(),
                    extra={"pass": render_pass, "extrinsic": extrinsic.tolist()},
                )
    write_dataset_card(out, manifest)
    return out
