"""Preparer ``generic-folder``: any folder of RGB images with a dense depth / disparity file each.

Used by the manifests of ReDWeb, DIML indoor and MegaDepth (their recipes hold the options), and by
any new RGB + depth set: write a manifest with ``reader: generic-folder`` and a recipe.

Options:
- ``rgb_glob``: glob relative to ``--source`` (``**`` allowed), or split → glob.
- pairing, one of: ``depth_replace`` — list of [old, new] substitutions applied in order to the
  image's relative path to give the depth file's (e.g. [["Imgs/", "RDs/"], [".jpg", ".png"]]); or
  ``depth_glob`` — files matched by stem (file name without extension, after removing
  ``rgb_suffix`` / ``depth_suffix``), which must be unique.
- ``depth_format``: ``png`` (8/16-bit integer; value / ``depth_scale``), ``npy``, ``pfm``
  (float), or ``h5:NAME`` (float dataset NAME of an HDF5 file).
- ``invalid_value``: raw value meaning "no measurement" (default 0; ``null``: every pixel valid).

The manifest's ``kind`` says what the values mean; its ``depth.storage``/``scale`` how they are stored:
``png16`` keeps integer files bit-exact (raw values re-scaled only when ``depth_scale`` differs
from the storage scale), ``f32`` stores float32.
"""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from depthbench.catalog import DatasetManifest
from depthbench.data.archives import resolve_source
from depthbench.data.card import write_dataset_card
from depthbench.data.prepared import PreparedWriter
from depthbench.data.readers.common import read_bytes, read_png_array, read_rgb, sha256_bytes, split_is_done
from depthbench.errors import DataError, UsageError
from depthbench.prepare import register_preparer


def read_pfm(data: bytes, where: str) -> np.ndarray:
    """Portable float map: header ``Pf`` (1 channel) or ``PF`` (3: first used), ``W H``, scale
    (negative = little-endian), rows stored bottom to top."""
    stream = io.BytesIO(data)
    try:
        header = stream.readline().strip()
        dims = stream.readline().split()
        scale = float(stream.readline().strip())
        width, height = int(dims[0]), int(dims[1])
    except (ValueError, IndexError) as exc:
        raise DataError(f"{where}: not a PFM file ({exc})") from exc
    channels = {b"Pf": 1, b"PF": 3}.get(header)
    if channels is None:
        raise DataError(f"{where}: PFM header {header[:8]!r}, expected Pf or PF")
    dtype = "<f4" if scale < 0 else ">f4"
    body = stream.read()
    expected = width * height * channels * 4
    if len(body) < expected:
        raise DataError(f"{where}: truncated PFM ({len(body)} of {expected} bytes)")
    values = np.frombuffer(body[:expected], dtype=dtype).reshape(height, width, channels)[..., 0]
    return np.flipud(values).astype(np.float32)


def read_depth_file(path: Path, depth_format: str) -> np.ndarray:
    """Raw values of a depth/disparity file: integer array for PNG, float32 otherwise."""
    if depth_format == "png":
        raw = read_png_array(path, "depth PNG")
        if raw.ndim == 3:
            if not (np.array_equal(raw[..., 0], raw[..., 1]) and np.array_equal(raw[..., 0], raw[..., 2])):
                raise DataError(f"{path}: colour depth PNG; expected a single-channel (or gray) map")
            raw = raw[..., 0]
        return raw
    if depth_format == "npy":
        try:
            return np.asarray(
                np.load(io.BytesIO(read_bytes(path, "depth .npy")), allow_pickle=False), dtype=np.float32
            )
        except ValueError as exc:
            raise DataError(f"{path}: not a numpy .npy array ({exc})") from exc
    if depth_format == "pfm":
        return read_pfm(read_bytes(path, "depth .pfm"), str(path))
    if depth_format.startswith("h5:"):
        import h5py

        key = depth_format[3:]
        if not path.is_file():
            raise DataError(f"{path}: depth HDF5 file not found")
        try:
            with h5py.File(path, "r") as fh:
                if key not in fh:
                    raise DataError(f"{path}: no dataset {key!r} (has: {', '.join(fh.keys())})")
                return np.asarray(fh[key], dtype=np.float32)
        except OSError as exc:
            raise DataError(f"{path}: corrupt or unreadable HDF5 file ({exc})") from exc
    raise UsageError(f"depth_format {depth_format!r}: expected png, npy, pfm or h5:DATASET")


def _pair_by_replace(rgb: list[Path], root: Path, rules: list[list[str]]) -> list[tuple[Path, Path]]:
    pairs = []
    for path in rgb:
        rel = path.relative_to(root).as_posix()
        for old, new in rules:
            rel = rel.replace(old, new)
        pairs.append((path, root / rel))
    return pairs


def _strip(stem: str, suffix: str) -> str:
    return stem[: -len(suffix)] if suffix and stem.endswith(suffix) else stem


def _pair_by_stem(
    rgb: list[Path], root: Path, depth_glob: str, rgb_suffix: str, depth_suffix: str
) -> list[tuple[Path, Path]]:
    depth_by_key: dict[str, Path] = {}
    for path in sorted(root.glob(depth_glob)):
        key = _strip(path.stem, depth_suffix)
        if key in depth_by_key:
            raise DataError(
                f"{path}: depth stem {key!r} also matches {depth_by_key[key]}; use depth_replace instead"
            )
        depth_by_key[key] = path
    pairs = []
    for path in rgb:
        key = _strip(path.stem, rgb_suffix)
        if key not in depth_by_key:
            raise DataError(f"{path}: no depth file with stem {key!r} matching {depth_glob!r}")
        pairs.append((path, depth_by_key[key]))
    return pairs


def _sample_id(path: Path, root: Path) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", path.relative_to(root).with_suffix("").as_posix())


@register_preparer("generic-folder")
def prepare_generic_folder(
    manifest: DatasetManifest,
    source: Path | None,
    out: Path,
    *,
    rgb_glob: str | dict[str, str] = "**/*.jpg",
    depth_replace: list[list[str]] | None = None,
    depth_glob: str | None = None,
    rgb_suffix: str = "",
    depth_suffix: str = "",
    depth_format: str = "png",
    depth_scale: float = 1.0,
    invalid_value: float | None = 0.0,
    splits: list[str] | None = None,
    overwrite: bool = False,
) -> Path:
    """Pair images with depth files (module docstring) and write one split per ``rgb_glob`` entry;
    stored values: raw / ``depth_scale`` in the manifest's kind and units."""
    root = resolve_source(source, out)
    if root is None:
        raise UsageError(f"dataset {manifest.name!r} needs --source (folder of images and depth files)")
    if (depth_replace is None) == (depth_glob is None):
        raise UsageError("generic-folder: give exactly one of depth_replace or depth_glob")
    globs = rgb_glob if isinstance(rgb_glob, dict) else {manifest.eval.split: rgb_glob}
    storage, store_scale = manifest.depth.storage, manifest.depth.scale
    if storage == "none":
        raise UsageError(f"dataset {manifest.name!r}: generic-folder needs depth storage png16 or f32")
    for split in splits or list(globs):
        if split not in globs:
            raise UsageError(f"split {split!r}: no rgb_glob for it (rgb_glob: {globs})")
        if split_is_done(out, split, overwrite):
            print(
                f"{manifest.name}: split {split} already prepared (overwrite=true to redo)", file=sys.stderr
            )
            continue
        rgb = sorted(p for p in root.glob(globs[split]) if p.is_file())
        if not rgb:
            raise DataError(f"{root}: no image matches {globs[split]!r} for split {split!r}")
        pairs = (
            _pair_by_replace(rgb, root, depth_replace)
            if depth_replace is not None
            else _pair_by_stem(rgb, root, str(depth_glob), rgb_suffix, depth_suffix)
        )
        with PreparedWriter(
            out, manifest.name, split, depth_storage=storage, depth_scale=store_scale, overwrite=True
        ) as writer:
            for image_path, depth_path in tqdm(
                pairs, desc=f"{manifest.name}/{split}", unit="img", leave=False
            ):
                rgb_bytes, hw = read_rgb(image_path)
                raw = read_depth_file(depth_path, depth_format)
                if raw.shape != hw:
                    raise DataError(f"{depth_path}: depth is {raw.shape} but {image_path} is {hw[0]}×{hw[1]}")
                valid = (
                    np.isfinite(raw) if invalid_value is None else np.isfinite(raw) & (raw != invalid_value)
                )
                values = np.where(valid, raw.astype(np.float64) / depth_scale, 0.0)
                if bool((values < 0).any()):
                    raise DataError(f"{depth_path}: negative depth/disparity values")
                explicit_valid = None if bool((valid == (values > 0)).all()) else valid
                depth: Any
                if storage == "png16" and raw.dtype.kind in "ui" and float(store_scale or 1.0) == depth_scale:
                    depth = np.where(valid, raw, 0).astype(np.uint16)  # bit-exact integer copy
                else:
                    depth = values.astype(np.float32)
                sample_id = _sample_id(image_path, root)
                writer.add(
                    sample_id=sample_id,
                    rgb=rgb_bytes,
                    image_hw=hw,
                    depth=depth,
                    valid=explicit_valid,
                    kind=manifest.kind,
                    scene_id=image_path.parent.relative_to(root).as_posix(),
                    frame_id=image_path.stem,
                    source_sha256=sha256_bytes(rgb_bytes, depth_path.read_bytes()),
                    extra={
                        "rgb": image_path.relative_to(root).as_posix(),
                        "depth": depth_path.relative_to(root).as_posix(),
                    },
                )
    write_dataset_card(out, manifest)
    return out
