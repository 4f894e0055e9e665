"""Preprocessing commands: ``fill-depth`` (colorization inpainting) and ``kitti-project``
(velodyne scan → depth map). Depth files: ``.npy`` float metres, or 16-bit ``.png`` holding
metres × ``--depth-scale`` (0 = missing)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import typer

from depthbench.errors import DataError, UsageError


def _read_depth(path: Path, depth_scale: float) -> np.ndarray:
    if not path.is_file():
        raise DataError(f"{path}: depth file not found")
    if path.suffix.lower() == ".npy":
        depth = np.load(path)
        if depth.ndim != 2:
            raise DataError(f"{path}: expected an H×W array, got shape {depth.shape}")
        return depth.astype(np.float32)
    if path.suffix.lower() == ".png":
        from PIL import Image

        with Image.open(path) as image:
            values = np.asarray(image)
        if values.ndim != 2:
            raise DataError(f"{path}: expected a single-channel 16-bit depth PNG, got shape {values.shape}")
        return (values.astype(np.float64) / depth_scale).astype(np.float32)
    raise UsageError(f"{path}: expected a .npy or .png depth file")


def _write_depth(path: Path, depth: np.ndarray, depth_scale: float) -> None:
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".png"):
        raise UsageError(f"{path}: output must end in .npy (float32 metres) or .png (uint16 metres × scale)")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    os.close(fd)
    try:
        if suffix == ".npy":
            np.save(tmp, depth.astype(np.float32))
        else:
            from PIL import Image

            scaled = np.round(np.nan_to_num(depth.astype(np.float64), nan=0.0) * depth_scale)
            if scaled.max(initial=0) > 65535:
                raise DataError(
                    f"{path}: depth {depth.max():.3f} m × scale {depth_scale} exceeds 65535; "
                    "use a smaller --depth-scale or .npy"
                )
            Image.fromarray(scaled.astype(np.uint16)).save(tmp, format="PNG")
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


def fill_depth_cmd(
    rgb: Path = typer.Option(..., "--rgb", help="RGB image (png/jpg/ppm) aligned with the depth map."),
    depth: Path = typer.Option(..., "--depth", help="Depth: .npy metres or 16-bit .png (0 = missing)."),
    out: Path = typer.Option(..., "--out", "-o", help="Filled depth: .npy or 16-bit .png."),
    depth_scale: float = typer.Option(1000.0, "--depth-scale", help="PNG value per metre (in and out)."),
    alpha: float = typer.Option(1.0, "--alpha", help="Data-term weight on known pixels (NYU toolbox: 1)."),
) -> None:
    """Fill missing depth by colorization inpainting (Levin et al. 2004; NYU toolbox)."""
    from PIL import Image

    from depthbench.prep.colorization import fill_depth_colorization

    if not rgb.is_file():
        raise DataError(f"{rgb}: RGB image not found")
    with Image.open(rgb) as image:
        rgb_array = np.asarray(image.convert("RGB"))
    filled = fill_depth_colorization(rgb_array, _read_depth(depth, depth_scale), alpha=alpha)
    _write_depth(out, filled, depth_scale)
    typer.echo(f"filled {depth} → {out}")


def kitti_project_cmd(
    calib: Path = typer.Argument(
        ..., help="Raw calib folder (calib_cam_to_cam.txt, calib_velo_to_cam.txt) or object calib file."
    ),
    velo_bin: Path = typer.Argument(..., help="Velodyne scan .bin (float32 x, y, z, reflectance)."),
    out: Path = typer.Option(
        ..., "--out", "-o", help="Depth map: .png (uint16, metres × 256) or .npy (float32)."
    ),
    cam: int = typer.Option(2, "--cam", help="Rectified camera index 0-3."),
    image_hw: str | None = typer.Option(None, "--image-hw", help="H,W (required for object-format calib)."),
    legacy_monodepth2: bool = typer.Option(
        False, "--legacy-monodepth2", help="monodepth2 convention: depth = lidar x, pixel = round(u) − 1."
    ),
) -> None:
    """Project a KITTI velodyne scan into camera ``cam`` (nearest point per pixel, camera-z depth)."""
    from depthbench.prep.kitti import velodyne_to_depth

    hw = None
    if image_hw is not None:
        try:
            height, width = (int(v) for v in image_hw.split(","))
        except ValueError as exc:
            raise UsageError(f"--image-hw: expected H,W such as 375,1242, got {image_hw!r}") from exc
        hw = (height, width)
    depth = velodyne_to_depth(calib, velo_bin, cam, image_hw=hw, legacy_monodepth2=legacy_monodepth2)
    _write_depth(out, depth, 256.0)
    typer.echo(f"projected {int(np.count_nonzero(depth))} pixels → {out}")


def register(app: typer.Typer) -> None:
    app.command("fill-depth")(fill_depth_cmd)
    app.command("kitti-project")(kitti_project_cmd)
