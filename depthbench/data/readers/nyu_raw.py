"""NYU Depth v2 raw Kinect dumps: file readers, frame synchronisation, depth conversion and
projection into the RGB camera (Silberman et al., ECCV 2012; constants of the NYU toolbox).

A scene folder (``bedroom_0001/``) holds ``r-<timestamp>-<n>.ppm`` (RGB, P6 640×480),
``d-<timestamp>-<n>.pgm`` (raw Kinect disparity, P5 640×480, maxval 65535), ``a-<timestamp>-<n>.dump``
(accelerometer) and ``INDEX.txt``. Timestamps are seconds (float) in the file names.

Facts used (from the toolbox's ``camera_params.m``, ``depth_rel2depth_abs.m`` and
``get_synched_frames.m``; this code is written from those definitions):

- **PGM byte order**: the dumps store the 16-bit samples little-endian although the PGM format is
  big-endian (the toolbox reads with ``imread`` and then ``swapbytes``). ``byte_order="auto"``
  picks the order in which every sample is ≤ 2047 (11-bit Kinect values), little first.
- **Disparity → metres**: depth = 351.3 / (1092.5 − raw); raw = 2047 marks "no measurement";
  values with a non-positive denominator are invalid; depths above 10 m are clamped to 10 m as in
  the toolbox.
- **Synchronisation**: the toolbox keeps every depth frame and pairs it with the RGB frame nearest
  in time (``primary="depth"``); ``primary="rgb"`` does the converse.
- **Projection** (``KinectCalibration``): undistort the depth pixel coordinates (Brown–Conrady
  k1, k2, p1, p2, k3 of the depth camera), back-project with the depth intrinsics, move into the
  RGB camera by X_rgb = R·X_d + t, project with the RGB intrinsics, round to the nearest pixel,
  nearest point wins (z-buffer). The toolbox writes ``R_tb = inv(−Aᵀ)`` (A = the nine calibration
  numbers reshaped column-major) and ``T_tb = [t_x, t_z, t_y]`` and relies on the perspective
  division cancelling the sign: projecting R_tb·X + T_tb equals projecting −(R_tb·X + T_tb), so the
  proper rigid motion is R = inv(Aᵀ), t = −T_tb, which is what is used here. Differences from the
  toolbox, on purpose: the stored depth is the z of the point in the RGB camera (the toolbox keeps
  the depth camera's z: ≤0.3 mm apart), pixel coordinates are 0-based like the OpenCV/RGBDemo
  calibration they come from (the toolbox's 1-based grid shifts the result by about 0.1 px), and
  the RGB image is undistorted with OpenCV (bilinear) when ``undistort`` is on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from depthbench.errors import DataError
from depthbench.types import Intrinsics

KINECT_INVALID = 2047
DEPTH_PARAM_1 = 351.3
DEPTH_PARAM_2 = 1092.5
TOOLBOX_MAX_DEPTH = 10.0
_FRAME_NAME = re.compile(r"^([rda])-(\d+(?:\.\d+)?)-(\d+)\.(ppm|pgm|dump)$")


# -- PNM files ---------------------------------------------------------------------------------
def _pnm_header(data: bytes, path: Path) -> tuple[str, int, int, int, int]:
    """Parse 'P5'/'P6', width, height, maxval (comments allowed); return them and the data offset."""
    tokens: list[bytes] = []
    pos = 0
    while len(tokens) < 4:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if pos < len(data) and data[pos : pos + 1] == b"#":
            while pos < len(data) and data[pos : pos + 1] not in (b"\n", b"\r"):
                pos += 1
            continue
        start = pos
        while pos < len(data) and not data[pos : pos + 1].isspace() and data[pos : pos + 1] != b"#":
            pos += 1
        if start == pos:
            raise DataError(f"{path}: truncated PNM header")
        tokens.append(data[start:pos])
    pos += 1  # exactly one whitespace byte separates the header from the samples
    magic = tokens[0].decode("ascii", "replace")
    if magic not in ("P5", "P6"):
        raise DataError(f"{path}: not a binary PGM/PPM (magic {magic!r}, expected P5 or P6)")
    try:
        width, height, maxval = (int(t) for t in tokens[1:])
    except ValueError as exc:
        raise DataError(f"{path}: malformed PNM header {b' '.join(tokens)!r}") from exc
    if not (0 < width < 1 << 15 and 0 < height < 1 << 15 and 0 < maxval < 65536):
        raise DataError(f"{path}: implausible PNM header {width}×{height} maxval {maxval}")
    return magic, width, height, maxval, pos


def read_pnm(path: Path, byte_order: str = "big") -> np.ndarray:
    """Binary PGM (H×W) / PPM (H×W×3) file → uint8 or uint16 array (see ``decode_pnm``)."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    return decode_pnm(data, Path(path), byte_order)


def decode_pnm(data: bytes, path: Path, byte_order: str = "big") -> np.ndarray:
    """Binary PGM (H×W) / PPM (H×W×3) bytes → uint8 or uint16 array. 16-bit samples are read in
    ``byte_order`` ('big' is the PNM standard). Truncated data raise DataError naming ``path``."""
    magic, width, height, maxval, offset = _pnm_header(data, Path(path))
    channels = 3 if magic == "P6" else 1
    dtype = np.dtype(np.uint8) if maxval < 256 else np.dtype(">u2" if byte_order == "big" else "<u2")
    needed = width * height * channels * dtype.itemsize
    if len(data) - offset < needed:
        raise DataError(f"{path}: truncated ({len(data) - offset} of {needed} sample bytes)")
    samples = np.frombuffer(data, dtype=dtype, count=width * height * channels, offset=offset)
    shape = (height, width, 3) if channels == 3 else (height, width)
    return samples.reshape(shape).astype(np.uint16 if dtype.itemsize == 2 else np.uint8)


def read_raw_depth(path: Path, byte_order: str = "auto") -> np.ndarray:
    """A ``d-*.pgm`` dump → uint16 raw Kinect values (0..2047), see ``decode_raw_depth``."""
    try:
        data = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found") from exc
    return decode_raw_depth(data, Path(path), byte_order)


def decode_raw_depth(data: bytes, path: Path, byte_order: str = "auto") -> np.ndarray:
    """``d-*.pgm`` bytes → uint16 raw Kinect values. ``auto``: little-endian (what the dumps hold,
    see module doc) unless that gives values > 2047 and big-endian does not."""
    if byte_order not in ("auto", "little", "big"):
        raise DataError(f"byte_order {byte_order!r}: expected auto, little or big")
    if byte_order != "auto":
        return decode_pnm(data, path, byte_order)
    values = decode_pnm(data, path, "little")
    if values.ndim != 2:
        raise DataError(f"{path}: expected a PGM depth dump, got a colour PPM")
    if values.max(initial=0) <= KINECT_INVALID:
        return values
    swapped = values.byteswap()
    if swapped.max(initial=0) <= KINECT_INVALID:
        return swapped
    raise DataError(f"{path}: 16-bit samples exceed 2047 in both byte orders; not a raw Kinect depth dump")


def write_pnm(path: Path, array: np.ndarray, byte_order: str = "big") -> None:
    """Write a binary PGM/PPM (test data in the real format); 16-bit samples in ``byte_order``."""
    magic = "P6" if array.ndim == 3 else "P5"
    maxval = 255 if array.dtype == np.uint8 else 65535
    header = f"{magic}\n{array.shape[1]} {array.shape[0]}\n{maxval}\n".encode()
    body = array.astype(np.uint8 if maxval == 255 else (">u2" if byte_order == "big" else "<u2")).tobytes()
    Path(path).write_bytes(header + body)


# -- depth conversion ----------------------------------------------------------------------------
def raw_to_metres(raw: np.ndarray, max_depth: float = TOOLBOX_MAX_DEPTH) -> np.ndarray:
    """Kinect raw disparity → metres: 351.3 / (1092.5 − raw) (toolbox ``depth_rel2depth_abs``);
    0 where raw = 2047 or the denominator is ≤ 0; clamped to ``max_depth`` like the toolbox."""
    raw_f = raw.astype(np.float64)
    denominator = DEPTH_PARAM_2 - raw_f
    valid = (raw != KINECT_INVALID) & (denominator > 0)
    depth = np.zeros(raw.shape, dtype=np.float64)
    depth[valid] = DEPTH_PARAM_1 / denominator[valid]
    return np.minimum(depth, max_depth).astype(np.float32)


# -- calibration and projection --------------------------------------------------------------------
_A_COLUMN_MAJOR = (
    9.9997798940829263e-01, 5.0518419386157446e-03, 4.3011152014118693e-03,
    -5.0359919480810989e-03, 9.9998051861143999e-01, -3.6879781309514218e-03,
    -4.3196624923060242e-03, 3.6662365748484798e-03, 9.9998394948385538e-01,
)  # fmt: skip


def _toolbox_rotation() -> np.ndarray:
    a = np.array(_A_COLUMN_MAJOR).reshape(3, 3, order="F")  # MATLAB reshape(R, [3 3])
    return np.linalg.inv(a.T)


NYU_RGB_INTRINSICS = Intrinsics(
    5.1885790117450188e02, 5.1946961112127485e02, 3.2558244941119034e02, 2.5373616633400465e02
)
NYU_DEPTH_INTRINSICS = Intrinsics(
    5.8262448167737955e02, 5.8269103270988637e02, 3.1304475870804731e02, 2.3844389626620386e02
)


@dataclass(frozen=True)
class KinectCalibration:
    """The NYU toolbox's Kinect calibration (camera_params.m, calibrated with RGBDemo/OpenCV)."""

    rgb: Intrinsics = NYU_RGB_INTRINSICS
    rgb_distortion: tuple[float, ...] = (
        2.0796615318809061e-01,
        -5.8613825163911781e-01,
        7.2231363135888329e-04,
        1.0479627195765181e-03,
        4.9856986684705107e-01,
    )  # k1 k2 p1 p2 k3
    depth: Intrinsics = NYU_DEPTH_INTRINSICS
    depth_distortion: tuple[float, ...] = (
        -9.9897236553084481e-02,
        3.9065324602765344e-01,
        1.9290592870229277e-03,
        -1.9422022475975055e-03,
        -5.1031725053400578e-01,
    )
    rotation: np.ndarray = field(default_factory=_toolbox_rotation)
    # t = −[t_x, t_z, t_y] of camera_params.m (see module doc for the sign).
    translation: tuple[float, float, float] = (
        -2.5031875059141302e-02,
        2.9342312935846411e-04,
        -6.6238747008330102e-04,
    )


def undistort_pixels(
    u: np.ndarray, v: np.ndarray, intr: Intrinsics, distortion: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """Distorted pixel coordinates → ideal normalised coordinates (x, y) (OpenCV's iterative
    inversion of the Brown–Conrady model, ``cv2.undistortPoints``)."""
    import cv2

    points = np.stack([u.ravel(), v.ravel()], axis=-1).astype(np.float64)[:, None, :]
    out = cv2.undistortPoints(points, intr.as_matrix(), np.asarray(distortion, dtype=np.float64))
    return out[:, 0, 0].reshape(u.shape), out[:, 0, 1].reshape(u.shape)


def project_depth_to_rgb(
    depth_m: np.ndarray,
    calib: KinectCalibration = KinectCalibration(),
    *,
    undistort: bool = True,
    out_hw: tuple[int, int] | None = None,
) -> np.ndarray:
    """Depth-camera depth (metres, 0 = missing) → depth in the RGB camera's (undistorted) image:
    back-project, rigid motion, pinhole projection, nearest point per pixel. Returns float32."""
    height, width = depth_m.shape
    out_h, out_w = out_hw or (height, width)
    v, u = np.nonzero(depth_m > 0)
    z = depth_m[v, u].astype(np.float64)
    if undistort:
        x_n, y_n = undistort_pixels(
            u.astype(np.float64), v.astype(np.float64), calib.depth, calib.depth_distortion
        )
    else:
        x_n = (u - calib.depth.cx) / calib.depth.fx
        y_n = (v - calib.depth.cy) / calib.depth.fy
    points = np.stack([x_n * z, y_n * z, z])
    moved = calib.rotation @ points + np.asarray(calib.translation)[:, None]
    in_front = moved[2] > 0
    moved = moved[:, in_front]
    col = np.rint(calib.rgb.fx * moved[0] / moved[2] + calib.rgb.cx).astype(np.int64)
    row = np.rint(calib.rgb.fy * moved[1] / moved[2] + calib.rgb.cy).astype(np.int64)
    inside = (col >= 0) & (col < out_w) & (row >= 0) & (row < out_h)
    col, row, z_rgb = col[inside], row[inside], moved[2, inside]
    # Nearest point wins: minimum.at is defined for repeated indices (plain fancy assignment
    # with duplicates has no documented order).
    out = np.full((out_h, out_w), np.inf, dtype=np.float64)
    np.minimum.at(out, (row, col), z_rgb)
    out[np.isinf(out)] = 0.0
    return out.astype(np.float32)


def undistort_rgb(rgb: np.ndarray, calib: KinectCalibration = KinectCalibration()) -> np.ndarray:
    """Undistort the RGB image with the RGB camera's distortion (bilinear, same intrinsics)."""
    import cv2

    k = calib.rgb.as_matrix()
    return cv2.undistort(rgb, k, np.asarray(calib.rgb_distortion, dtype=np.float64), None, k)


# -- scene folders and synchronisation ---------------------------------------------------------------
@dataclass(frozen=True)
class RawFrame:
    scene: str
    rgb_file: str
    depth_file: str
    rgb_time: float
    depth_time: float


def parse_frame_name(name: str) -> tuple[str, float] | None:
    """``d-1315403270.612296-3850931981.pgm`` → ("d", 1315403270.612296); None for other files."""
    match = _FRAME_NAME.match(name)
    return (match.group(1), float(match.group(2))) if match else None


def synchronise(
    rgb: list[tuple[float, str]], depth: list[tuple[float, str]], primary: str = "depth"
) -> list[tuple[int, int]]:
    """(rgb index, depth index) pairs: every frame of the ``primary`` stream with the other stream's
    frame nearest in time (ties → the earlier one), in time order."""
    if primary not in ("depth", "rgb"):
        raise DataError(f"primary {primary!r}: expected 'depth' or 'rgb'")
    if not rgb or not depth:
        return []
    keys, others = (depth, rgb) if primary == "depth" else (rgb, depth)
    other_times = np.array([t for t, _ in others])
    order = np.argsort(other_times, kind="stable")
    sorted_times = other_times[order]
    pairs = []
    for k_index, (t, _) in sorted(enumerate(keys), key=lambda e: e[1][0]):
        pos = int(np.searchsorted(sorted_times, t))
        best = min(
            (p for p in (pos - 1, pos) if 0 <= p < len(sorted_times)),
            key=lambda p: (abs(sorted_times[p] - t), p),
        )
        o_index = int(order[best])
        pairs.append((o_index, k_index) if primary == "depth" else (k_index, o_index))
    return pairs


def scan_scene(folder: Path, primary: str = "depth") -> list[RawFrame]:
    """Synchronised frames of one scene folder (files that do not match the naming are ignored)."""
    rgb: list[tuple[float, str]] = []
    depth: list[tuple[float, str]] = []
    for path in sorted(folder.iterdir()):
        parsed = parse_frame_name(path.name)
        if parsed is None:
            continue
        kind, time = parsed
        if kind == "r":
            rgb.append((time, path.name))
        elif kind == "d":
            depth.append((time, path.name))
    return [
        RawFrame(folder.name, rgb[i][1], depth[j][1], rgb[i][0], depth[j][0])
        for i, j in synchronise(rgb, depth, primary)
    ]
