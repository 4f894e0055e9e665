"""``fill-depth`` and ``kitti-project`` commands through typer's CliRunner."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import typer
from PIL import Image
from typer.testing import CliRunner

from depthbench.cli.cmd_prep import register
from depthbench.errors import DataError, UsageError
from depthbench.prep import fill_depth_colorization
from depthbench.prep.kitti import project_velodyne, read_raw_calib

_SHARED = [Path(__file__).parents[1] / ".." / "shared", Path(__file__).parents[1] / ".." / ".." / "shared"]
FIXTURES = next((p for p in _SHARED if p.exists()), _SHARED[0]) / "fixtures"


@pytest.fixture()
def app() -> typer.Typer:
    application = typer.Typer()
    register(application)
    return application


def test_fill_depth_png_and_npy(app: typer.Typer, tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (16, 20, 3), dtype=np.uint8)
    depth_mm = rng.integers(500, 4000, (16, 20)).astype(np.uint16)
    depth_mm[4:9, 5:12] = 0
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(depth_mm).save(tmp_path / "depth.png")
    result = CliRunner().invoke(
        app,
        [
            "fill-depth",
            "--rgb",
            str(tmp_path / "rgb.png"),
            "--depth",
            str(tmp_path / "depth.png"),
            "--out",
            str(tmp_path / "filled.npy"),
        ],
    )
    assert result.exit_code == 0, result.output
    expected = fill_depth_colorization(rgb, depth_mm / 1000.0)
    np.testing.assert_allclose(np.load(tmp_path / "filled.npy"), expected, rtol=0, atol=1e-6)
    result = CliRunner().invoke(
        app,
        [
            "fill-depth",
            "--rgb",
            str(tmp_path / "rgb.png"),
            "--depth",
            str(tmp_path / "filled.npy"),
            "--out",
            str(tmp_path / "same.png"),
        ],
    )
    assert result.exit_code == 0, result.output
    back = np.asarray(Image.open(tmp_path / "same.png")).astype(np.float64)
    np.testing.assert_array_equal(back, np.round(expected.astype(np.float64) * 1000))
    assert not list(tmp_path.glob(".*"))


def test_fill_depth_errors(app: typer.Typer, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["fill-depth", "--rgb", str(tmp_path / "no.png"), "--depth", "x.npy", "--out", "y.npy"]
    )
    assert isinstance(result.exception, DataError)
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "rgb.png")
    np.save(tmp_path / "d.npy", np.ones((4, 4), np.float32))
    result = CliRunner().invoke(
        app,
        [
            "fill-depth",
            "--rgb",
            str(tmp_path / "rgb.png"),
            "--depth",
            str(tmp_path / "d.npy"),
            "--out",
            str(tmp_path / "y.tiff"),
        ],
    )
    assert isinstance(result.exception, UsageError)


def test_kitti_project_raw_calib(app: typer.Typer, tmp_path: Path) -> None:
    (tmp_path / "calib_cam_to_cam.txt").write_text(
        "calib_time: 09-Jan-2012 13:57:47\nS_rect_02: 20 12\nR_rect_00: 1 0 0 0 1 0 0 0 1\n"
        "P_rect_02: 100 0 10 0 0 100 5 0 0 0 1 0\n"
    )
    (tmp_path / "calib_velo_to_cam.txt").write_text("R: 0 -1 0 0 0 -1 1 0 0\nT: 0 0 0\n")
    pts = np.array([[10.0, -0.2, -0.1, 0.3], [4.0, 0.04, 0.08, 0.1]], dtype="<f4")
    pts.tofile(tmp_path / "scan.bin")
    result = CliRunner().invoke(
        app, ["kitti-project", str(tmp_path), str(tmp_path / "scan.bin"), "--out", str(tmp_path / "d.png")]
    )
    assert result.exit_code == 0, result.output
    png = np.asarray(Image.open(tmp_path / "d.png"))
    assert png.shape == (12, 20) and png[6, 12] == 2560 and png[3, 9] == 1024 and np.count_nonzero(png) == 2
    result = CliRunner().invoke(
        app,
        [
            "kitti-project",
            str(tmp_path),
            str(tmp_path / "scan.bin"),
            "--out",
            str(tmp_path / "d.npy"),
            "--legacy-monodepth2",
        ],
    )
    assert result.exit_code == 0, result.output
    calib = read_raw_calib(tmp_path)
    np.testing.assert_array_equal(
        np.load(tmp_path / "d.npy"),
        project_velodyne(pts, calib.velo_to_image, (12, 20), legacy_monodepth2=True),
    )
    result = CliRunner().invoke(
        app,
        [
            "kitti-project",
            str(tmp_path),
            str(tmp_path / "scan.bin"),
            "--out",
            str(tmp_path / "e.npy"),
            "--image-hw",
            "12x20",
        ],
    )
    assert isinstance(result.exception, UsageError)


def test_kitti_project_object_fixture(app: typer.Typer, tmp_path: Path) -> None:
    folder = FIXTURES / "kitti_object_000007"
    if not folder.exists():
        pytest.skip("shared fixture kitti_object_000007 not present")
    result = CliRunner().invoke(
        app,
        [
            "kitti-project",
            str(folder / "calib" / "000007.txt"),
            str(folder / "velodyne" / "000007.bin"),
            "--out",
            str(tmp_path / "d.png"),
            "--image-hw",
            "375,1242",
        ],
    )
    assert result.exit_code == 0, result.output
    png = np.asarray(Image.open(tmp_path / "d.png"))
    assert png.shape == (375, 1242) and png.dtype == np.uint16 and 15_000 < np.count_nonzero(png) < 25_000
