"""KITTI velodyne projection: hand-computed points, duplicates, behind-camera, borders, real fixture."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from depthbench.errors import DataError, UsageError
from depthbench.prep.kitti import (
    project_velodyne,
    read_object_calib,
    read_raw_calib,
    read_velodyne_bin,
    velodyne_to_depth,
)

_SHARED = [Path(__file__).parents[1] / ".." / "shared", Path(__file__).parents[1] / ".." / ".." / "shared"]
FIXTURES = next((p for p in _SHARED if p.exists()), _SHARED[0]) / "fixtures"

# Camera looks along lidar x; camera x = −lidar y, camera y = −lidar z (KITTI axes).
R_AXES = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])


def write_raw_calib(
    folder: Path,
    p_rect: np.ndarray,
    r_rect: np.ndarray,
    rot: np.ndarray,
    trans: np.ndarray,
    width: int,
    height: int,
) -> Path:
    def fmt(a: np.ndarray) -> str:
        return " ".join(f"{v:.12e}" for v in np.ravel(a))

    (folder / "calib_cam_to_cam.txt").write_text(
        "calib_time: 09-Jan-2012 13:57:47\ncorner_dist: 9.950000e-02\n"
        f"S_rect_02: {width:.6e} {height:.6e}\nR_rect_00: {fmt(r_rect)}\nP_rect_02: {fmt(p_rect)}\n"
    )
    (folder / "calib_velo_to_cam.txt").write_text(
        f"calib_time: 15-Mar-2012 11:37:16\nR: {fmt(rot)}\nT: {fmt(trans)}\ndelta_f: 0 0\n"
    )
    return folder


def simple_calib(tmp_path: Path, t_z: float = 0.0) -> Path:
    p_rect = np.array([[100.0, 0, 10.0, 0], [0, 100.0, 5.0, 0], [0, 0, 1.0, 0]])
    return write_raw_calib(
        tmp_path, p_rect, np.eye(3), R_AXES, np.array([0.0, 0.0, t_z]), width=20, height=12
    )


def write_bin(path: Path, pts: list[tuple[float, float, float]]) -> Path:
    arr = np.array([(x, y, z, 0.5) for x, y, z in pts], dtype="<f4")
    arr.tofile(path)
    return path


def test_hand_computed_points(tmp_path: Path) -> None:
    # lidar (x, y, z) → camera (−y, −z, x); u = 100·(−y)/x + 10, v = 100·(−z)/x + 5.
    pts = [(10.0, -0.2, -0.1), (4.0, 0.04, 0.08), (8.0, -0.26, 0.0)]
    depth = velodyne_to_depth(simple_calib(tmp_path), write_bin(tmp_path / "s.bin", pts))
    assert depth.shape == (12, 20) and depth.dtype == np.float32
    # (10, −0.2, −0.1): u = 12, v = 6; (4, 0.04, 0.08): u = 9, v = 3; (8, −0.26, 0): u = 13.25, v = 5
    expected = np.zeros((12, 20), np.float32)
    expected[6, 12] = 10.0
    expected[3, 9] = 4.0
    expected[5, 13] = 8.0
    np.testing.assert_array_equal(depth, expected)


def test_legacy_mode_pixel_and_depth(tmp_path: Path) -> None:
    calib = simple_calib(tmp_path, t_z=0.5)  # camera z = lidar x + 0.5
    # u = 100·0.1/10.5 + 10 = 10.952 → round 11 − 1 = 10; default: floor(11.452) = 11
    pts = [(10.0, -0.1, 0.0)]
    legacy = velodyne_to_depth(calib, write_bin(tmp_path / "s.bin", pts), legacy_monodepth2=True)
    default = velodyne_to_depth(calib, tmp_path / "s.bin")
    assert legacy[4, 10] == np.float32(10.0) and np.count_nonzero(legacy) == 1
    assert default[5, 11] == np.float32(10.5) and np.count_nonzero(default) == 1


def test_legacy_round_half_to_even(tmp_path: Path) -> None:
    calib = read_raw_calib(simple_calib(tmp_path))
    # u = 100·(−y)/x + 10 exactly 12.5 and 13.5; v exactly 5 → legacy rows 4, cols 12−1 and 14−1.
    pts = np.array([[8.0, -0.2, 0.0, 0.0], [8.0, -0.28, 0.0, 0.0]])
    legacy = project_velodyne(pts, calib.velo_to_image, (12, 20), legacy_monodepth2=True)
    assert sorted(zip(*np.nonzero(legacy))) == [(4, 11), (4, 13)]
    default = project_velodyne(pts, calib.velo_to_image, (12, 20))
    assert sorted(zip(*np.nonzero(default))) == [(5, 13), (5, 14)]


def test_nearest_point_wins_any_order(tmp_path: Path) -> None:
    calib = read_raw_calib(simple_calib(tmp_path))
    # Same ray (u = 12, v = 6) at three distances.
    ray = np.array([[10.0, -0.2, -0.1], [5.0, -0.1, -0.05], [20.0, -0.4, -0.2]])
    for order in ([0, 1, 2], [2, 1, 0], [1, 2, 0]):
        for legacy in (False, True):
            d = project_velodyne(ray[order], calib.velo_to_image, (12, 20), legacy_monodepth2=legacy)
            assert np.count_nonzero(d) == 1 and d.max() == np.float32(5.0)


def test_points_behind_camera(tmp_path: Path) -> None:
    calib = read_raw_calib(simple_calib(tmp_path, t_z=-1.0))  # camera z = lidar x − 1
    # lidar x = 0.5 → camera z = −0.5: dropped (even though lidar x > 0); lidar x = −3 likewise.
    behind = np.array([[0.5, 0.0, 0.0], [-3.0, 0.0, 0.0]])
    assert not project_velodyne(behind, calib.velo_to_image, (12, 20)).any()
    # A point with lidar x < 0 but camera z > 0 (t_z = +5): kept by default, dropped by legacy.
    calib2 = read_raw_calib(simple_calib(tmp_path, t_z=5.0))
    pt = np.array([[-1.0, 0.0, 0.0]])  # camera (0, 0, 4): u = 10, v = 5
    d = project_velodyne(pt, calib2.velo_to_image, (12, 20))
    assert d[5, 10] == np.float32(4.0)
    assert not project_velodyne(pt, calib2.velo_to_image, (12, 20), legacy_monodepth2=True).any()


def test_image_border(tmp_path: Path) -> None:
    calib = read_raw_calib(simple_calib(tmp_path))
    # u = −0.5 → pixel 0 (default); u = 19.49 → 19; u = 19.5 → 20 (outside); v = 11.4 → row 11.
    pts = np.array([[10.0, 1.05, -0.64], [10.0, -0.949, -0.64], [10.0, -0.95, -0.64]])
    d = project_velodyne(pts, calib.velo_to_image, (12, 20))
    assert sorted(zip(*np.nonzero(d))) == [(11, 0), (11, 19)]


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="calib_cam_to_cam"):
        read_raw_calib(tmp_path)
    (tmp_path / "bad.bin").write_bytes(b"\x00" * 10)
    with pytest.raises(DataError, match="multiple of 16"):
        read_velodyne_bin(tmp_path / "bad.bin")
    obj = tmp_path / "000000.txt"
    obj.write_text(
        "P2: 1 0 0 0 0 1 0 0 0 0 1 0\nR0_rect: 1 0 0 0 1 0 0 0 1\nTr_velo_to_cam: 1 0 0 0 0 1 0 0 0 0 1 0\n"
    )
    write_bin(tmp_path / "s.bin", [(1.0, 1.0, 1.0)])
    with pytest.raises(UsageError, match="image_hw"):
        velodyne_to_depth(obj, tmp_path / "s.bin")
    with pytest.raises(DataError, match="P3"):
        read_object_calib(obj, cam=3)


def numpy_oracle(points: np.ndarray, m: np.ndarray, hw: tuple[int, int], legacy: bool) -> np.ndarray:
    """Straightforward vectorised projection written from the definitions."""
    pts = points[:, :3].astype(np.float64)
    if legacy:
        pts = pts[pts[:, 0] >= 0]
    proj = np.hstack([pts, np.ones((len(pts), 1))]) @ m.T
    with np.errstate(divide="ignore", invalid="ignore"):
        u, v = proj[:, 0] / proj[:, 2], proj[:, 1] / proj[:, 2]
    if legacy:
        cols, rows, z = np.round(u) - 1, np.round(v) - 1, pts[:, 0]
    else:
        keep = proj[:, 2] > 0
        cols, rows, z = np.floor(u + 0.5)[keep], np.floor(v + 0.5)[keep], proj[keep, 2]
    inside = (cols >= 0) & (rows >= 0) & (cols < hw[1]) & (rows < hw[0])
    cols, rows, z = cols[inside].astype(int), rows[inside].astype(int), z[inside].astype(np.float32)
    depth = np.full(hw, np.inf, np.float32)
    np.minimum.at(depth, (rows, cols), z)
    depth[np.isinf(depth)] = 0
    return depth


def test_random_scan_matches_numpy_oracle(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pts = rng.uniform([-30, -20, -3, 0], [60, 20, 3, 1], size=(20000, 4)).astype(np.float32)
    calib = read_raw_calib(simple_calib(tmp_path, t_z=0.3))
    for legacy in (False, True):
        got = project_velodyne(pts, calib.velo_to_image, (12, 20), legacy_monodepth2=legacy)
        np.testing.assert_array_equal(got, numpy_oracle(pts, calib.velo_to_image, (12, 20), legacy))


def test_real_object_fixture(tmp_path: Path) -> None:
    folder = FIXTURES / "kitti_object_000007"
    if not folder.exists():
        pytest.skip("shared fixture kitti_object_000007 not present")
    calib_file = folder / "calib" / "000007.txt"
    scan = folder / "velodyne" / "000007.bin"
    obj = read_object_calib(calib_file)
    pts = read_velodyne_bin(scan)
    assert pts.shape == (115236, 4)
    # The same numbers written in the raw format give the same matrix.
    values = {
        line.split(":")[0]: np.array(line.split()[1:], float)
        for line in calib_file.read_text().splitlines()
        if ":" in line
    }
    tr = values["Tr_velo_to_cam"].reshape(3, 4)
    write_raw_calib(tmp_path, values["P2"], values["R0_rect"], tr[:, :3], tr[:, 3], width=1242, height=375)
    raw = read_raw_calib(tmp_path)
    np.testing.assert_allclose(raw.velo_to_image, obj.velo_to_image, rtol=1e-12, atol=1e-9)
    for legacy in (False, True):
        depth = velodyne_to_depth(calib_file, scan, image_hw=(375, 1242), legacy_monodepth2=legacy)
        np.testing.assert_array_equal(depth, numpy_oracle(pts, obj.velo_to_image, (375, 1242), legacy))
        valid = depth[depth > 0]
        assert 15_000 < valid.size < 25_000 and valid.min() > 1.0 and valid.max() < 90.0
    default = velodyne_to_depth(tmp_path, scan)  # raw format: size from S_rect_02
    assert default.shape == (375, 1242)
    # camera z includes camera 2's optical-axis offset (P2[2,3] = 2.745884e-3 m) and differs from lidar x
    legacy = velodyne_to_depth(calib_file, scan, image_hw=(375, 1242), legacy_monodepth2=True)
    both = (default > 0) & (legacy > 0)
    assert abs(np.median(default[both] - legacy[both])) < 0.5
