"""KITTI velodyne scan → sparse depth map in a rectified camera image.

Sources: A. Geiger et al., "Vision meets Robotics: The KITTI Dataset", IJRR 2013 (calibration files and
the projection ``y = P_rect^(k) · R_rect^(0) · T_velo^cam · x``, eq. 7 and devkit readme); the KITTI
3D-object devkit readme for the ``calib/NNNNNN.txt`` layout (``P2``, ``R0_rect``, ``Tr_velo_to_cam``).
The legacy mode reproduces the ground-truth convention of monodepth2 (Godard et al., ICCV 2019,
``generate_depth_map``) as described in DESIGN.md; no code of theirs is used.

Default convention (``legacy_monodepth2=False``):
    (u', v', z) = P_rect_0k · R_rect_00 · [R|T] · (x, y, z, 1)ᵀ; points with camera z ≤ 0 are dropped;
    pixel = (floor(v'/z + 0.5), floor(u'/z + 0.5)) — integer image coordinates are pixel centres,
    0-based; depth = z, the camera-k z including camera k's offset along the optical axis encoded
    in P_rect_0k's last column; the nearest point (smallest depth) wins per pixel.
Legacy monodepth2 convention (``legacy_monodepth2=True``):
    points with lidar x < 0 are dropped (not camera z); pixel = round(·) − 1 with numpy's
    round-half-to-even; depth = lidar x; smallest depth wins per pixel.
Output: float32 H×W, 0 where no point lands.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from depthbench.errors import DataError, UsageError

RAW_CAM_TO_CAM = "calib_cam_to_cam.txt"
RAW_VELO_TO_CAM = "calib_velo_to_cam.txt"


@dataclass(frozen=True)
class VelodyneCalib:
    """``velo_to_image`` = P_rect_0k · R_rect_00 · [R|T] (3×4, float64); ``image_hw`` (H, W) when
    the calibration records it (raw format ``S_rect_0k``), else None."""

    velo_to_image: np.ndarray
    image_hw: tuple[int, int] | None


def _read_key_values(path: Path) -> dict[str, np.ndarray]:
    """``key: v1 v2 ...`` lines; lines whose values are not all numbers (calib_time) are skipped."""
    if not path.is_file():
        raise DataError(f"{path}: KITTI calibration file not found")
    values: dict[str, np.ndarray] = {}
    for line in path.read_text().splitlines():
        key, sep, rest = line.partition(":")
        if not sep:
            continue
        try:
            values[key.strip()] = np.array([float(v) for v in rest.split()], dtype=np.float64)
        except ValueError:
            continue
    return values


def _need(values: dict[str, np.ndarray], key: str, size: int, path: Path) -> np.ndarray:
    if key not in values or values[key].size != size:
        raise DataError(f"{path}: expected key {key!r} with {size} numbers")
    return values[key]


def _compose(p_rect: np.ndarray, r_rect: np.ndarray, velo_to_cam: np.ndarray) -> np.ndarray:
    r4 = np.eye(4)
    r4[:3, :3] = r_rect.reshape(3, 3)
    v4 = np.eye(4)
    v4[:3, :] = velo_to_cam.reshape(3, 4)
    return p_rect.reshape(3, 4) @ r4 @ v4


def read_raw_calib(calib_dir: str | Path, cam: int = 2) -> VelodyneCalib:
    """KITTI raw calibration: ``calib_cam_to_cam.txt`` (P_rect_0k, R_rect_00, S_rect_0k) and
    ``calib_velo_to_cam.txt`` (R, T) in ``calib_dir`` (the date folder, e.g. 2011_09_26)."""
    calib_dir = Path(calib_dir)
    if cam not in (0, 1, 2, 3):
        raise UsageError(f"cam: expected 0, 1, 2 or 3, got {cam}")
    c2c_path, v2c_path = calib_dir / RAW_CAM_TO_CAM, calib_dir / RAW_VELO_TO_CAM
    c2c = _read_key_values(c2c_path)
    v2c = _read_key_values(v2c_path)
    p_rect = _need(c2c, f"P_rect_0{cam}", 12, c2c_path)
    r_rect = _need(c2c, "R_rect_00", 9, c2c_path)
    size = _need(c2c, f"S_rect_0{cam}", 2, c2c_path)  # (width, height)
    rot = _need(v2c, "R", 9, v2c_path).reshape(3, 3)
    trans = _need(v2c, "T", 3, v2c_path).reshape(3, 1)
    velo_to_cam = np.hstack([rot, trans])
    return VelodyneCalib(_compose(p_rect, r_rect, velo_to_cam), (int(size[1]), int(size[0])))


def read_object_calib(calib_file: str | Path, cam: int = 2) -> VelodyneCalib:
    """KITTI 3D-object calibration ``calib/NNNNNN.txt`` (Pk, R0_rect, Tr_velo_to_cam); no image size."""
    calib_file = Path(calib_file)
    if cam not in (0, 1, 2, 3):
        raise UsageError(f"cam: expected 0, 1, 2 or 3, got {cam}")
    values = _read_key_values(calib_file)
    p_rect = _need(values, f"P{cam}", 12, calib_file)
    r_rect = _need(values, "R0_rect", 9, calib_file)
    velo_to_cam = _need(values, "Tr_velo_to_cam", 12, calib_file)
    return VelodyneCalib(_compose(p_rect, r_rect, velo_to_cam), None)


def read_calib(calib: str | Path, cam: int = 2) -> VelodyneCalib:
    """A raw-format calibration directory, or an object-format calibration file."""
    calib = Path(calib)
    if calib.is_dir():
        return read_raw_calib(calib, cam)
    if calib.is_file():
        return read_object_calib(calib, cam)
    raise DataError(f"{calib}: expected a KITTI raw calib directory or an object calib file")


def read_velodyne_bin(path: str | Path) -> np.ndarray:
    """KITTI ``.bin`` scan: float32 little-endian records (x, y, z, reflectance) → N×4 float32."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: velodyne scan not found")
    raw = np.fromfile(path, dtype="<f4")
    if raw.size % 4:
        raise DataError(f"{path}: size is not a multiple of 16 bytes (x, y, z, reflectance float32)")
    return raw.reshape(-1, 4)


@njit(cache=True)
def _project(points: np.ndarray, m: np.ndarray, height: int, width: int, legacy: bool) -> np.ndarray:
    depth = np.full((height, width), np.inf, dtype=np.float32)
    for n in range(points.shape[0]):
        x = np.float64(points[n, 0])
        y = np.float64(points[n, 1])
        z = np.float64(points[n, 2])
        if legacy and x < 0.0:
            continue
        pu = m[0, 0] * x + m[0, 1] * y + m[0, 2] * z + m[0, 3]
        pv = m[1, 0] * x + m[1, 1] * y + m[1, 2] * z + m[1, 3]
        pz = m[2, 0] * x + m[2, 1] * y + m[2, 2] * z + m[2, 3]
        if legacy:
            if pz == 0.0:  # u, v would be ±inf/NaN: never inside the image
                continue
            col_f = np.rint(pu / pz) - 1.0  # np.rint rounds half to even, like np.round
            row_f = np.rint(pv / pz) - 1.0
            value = x
        else:
            if pz <= 0.0:
                continue
            col_f = np.floor(pu / pz + 0.5)
            row_f = np.floor(pv / pz + 0.5)
            value = pz
        if not (col_f >= 0.0 and row_f >= 0.0 and col_f < width and row_f < height):
            continue
        row = int(row_f)
        col = int(col_f)
        v32 = np.float32(value)
        depth[row, col] = min(depth[row, col], v32)
    for i in range(height):
        for j in range(width):
            if depth[i, j] == np.inf:
                depth[i, j] = 0.0
    return depth


def project_velodyne(
    points: np.ndarray,
    velo_to_image: np.ndarray,
    image_hw: tuple[int, int],
    *,
    legacy_monodepth2: bool = False,
) -> np.ndarray:
    """Project N×3 or N×4 velodyne points with a 3×4 matrix into an H×W float32 depth map (module
    docstring gives both conventions)."""
    points = np.asarray(points)
    if points.ndim != 2 or points.shape[1] < 3:
        raise UsageError(f"points: expected N×3 or N×4, got shape {points.shape}")
    matrix = np.ascontiguousarray(velo_to_image, dtype=np.float64)
    if matrix.shape != (3, 4):
        raise UsageError(f"velo_to_image: expected 3×4, got {matrix.shape}")
    height, width = int(image_hw[0]), int(image_hw[1])
    if height <= 0 or width <= 0:
        raise UsageError(f"image_hw: expected positive (H, W), got {image_hw}")
    xyz = np.ascontiguousarray(points[:, :3], dtype=np.float32 if points.dtype == np.float32 else np.float64)
    return _project(xyz, matrix, height, width, bool(legacy_monodepth2))


def velodyne_to_depth(
    calib_dir: str | Path,
    velo_bin: str | Path,
    cam: int = 2,
    *,
    image_hw: tuple[int, int] | None = None,
    legacy_monodepth2: bool = False,
) -> np.ndarray:
    """Depth map (float32 H×W, metres, 0 = no point) of a KITTI velodyne scan seen from camera ``cam``.

    ``calib_dir``: raw-format calibration directory (``calib_cam_to_cam.txt``,
    ``calib_velo_to_cam.txt``; image size from ``S_rect_0k``) or an object-benchmark calibration file
    (then ``image_hw`` is required, e.g. (375, 1242)). ``image_hw`` overrides ``S_rect_0k``.
    """
    calib = read_calib(calib_dir, cam)
    hw = image_hw if image_hw is not None else calib.image_hw
    if hw is None:
        raise UsageError(f"image_hw: required for object-format calibration {calib_dir} (no S_rect_0k in it)")
    return project_velodyne(
        read_velodyne_bin(velo_bin), calib.velo_to_image, hw, legacy_monodepth2=legacy_monodepth2
    )
