"""Preparer of ``nyu-v2``: the NYU Depth v2 labeled set (Silberman et al., ECCV 2012).

Raw files (see loaders/nyu-v2.yaml):

- ``nyu_depth_v2_labeled.mat`` — MATLAB v7.3, i.e. an HDF5 file behind a 512-byte userblock.
  MATLAB stores arrays column-major, HDF5 row-major, so h5py shows every array with its axes
  reversed: ``images`` (MATLAB 480×640×3×1449) reads as (1449, 3, 640, 480), ``depths`` and
  ``rawDepths`` (480×640×1449) as (1449, 640, 480). A frame is therefore
  ``images[i].transpose(2, 1, 0)`` → H×W×3 and ``depths[i].T`` → H×W.
  ``depths`` are in metres and already filled by the toolbox's colorization inpainting;
  ``rawDepths`` are the projected Kinect depths with holes (0 = missing). ``scenes`` is a cell
  array of scene names (HDF5 object references to uint16 character arrays).
- ``splits.mat`` — ``trainNdxs`` (795) and ``testNdxs`` (654), 1-based indices into the 1449 frames
  (the split of Silberman et al. used by Eigen et al. 2014 and every later paper). It is a MATLAB v5
  file (scipy.io.loadmat); a v7.3 copy is read with h5py.

Depths are float32 in the .mat, so they are stored losslessly as float32 (``depth_storage f32``),
never quantised. Prepared splits: ``train``/``test`` (filled GT, the default variant) and
``train_raw``/``test_raw`` (raw GT), see ``catalog.gt_split_name``. Sample ids are the 1-based
frame index in the .mat, zero-padded (``00001``), so they match the official split indices.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Self

import numpy as np

from depthbench.catalog import DatasetManifest, gt_split_name
from depthbench.data.card import write_dataset_card
from depthbench.data.prepared import PreparedWriter
from depthbench.errors import DataError, UsageError
from depthbench.prepare import register_preparer

LABELED_MAT = "nyu_depth_v2_labeled.mat"
SPLITS_MAT = "splits.mat"
_GT_DATASETS = {"filled": "depths", "raw": "rawDepths"}


def _open_h5(path: Path) -> Any:
    import h5py

    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise DataError(
            f"{path}: not a readable MATLAB v7.3 (HDF5) file ({str(exc).splitlines()[0]})"
        ) from exc


def _h5_string(handle: Any, ref: Any) -> str:
    """A MATLAB char array behind an HDF5 object reference → str (uint16 code points)."""
    codes = np.asarray(handle[ref]).ravel()
    return "".join(chr(int(c)) for c in codes)


class NyuLabeledMat:
    """Frame-wise reader of ``nyu_depth_v2_labeled.mat`` (axis order explained in the module doc)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.file = _open_h5(self.path)
        for key in ("images", "depths", "rawDepths"):
            if key not in self.file:
                self.file.close()
                raise DataError(f"{self.path}: dataset {key!r} missing (is this nyu_depth_v2_labeled.mat?)")
        images = self.file["images"]
        if images.ndim != 4 or images.shape[1] != 3:
            self.file.close()
            raise DataError(
                f"{self.path}: 'images' has shape {images.shape}, expected (N, 3, W, H) as MATLAB v7.3 stores H×W×3×N"
            )
        self.count = int(images.shape[0])
        self.width, self.height = int(images.shape[2]), int(images.shape[3])
        for key in ("depths", "rawDepths"):
            if self.file[key].shape != (self.count, self.width, self.height):
                self.file.close()
                raise DataError(
                    f"{self.path}: {key!r} has shape {self.file[key].shape}, expected {(self.count, self.width, self.height)}"
                )
        self._scenes: list[str] | None = None

    def close(self) -> None:
        self.file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _read(self, key: str, index: int) -> np.ndarray:
        try:
            return np.asarray(self.file[key][index])
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(
                f"{self.path}: cannot read {key}[{index}] (truncated or corrupt file: {str(exc).splitlines()[0]})"
            ) from exc

    def image(self, index: int) -> np.ndarray:
        """Frame ``index`` (0-based) as uint8 H×W×3."""
        return np.ascontiguousarray(self._read("images", index).transpose(2, 1, 0)).astype(
            np.uint8, copy=False
        )

    def depth(self, index: int, variant: str = "filled") -> np.ndarray:
        """Depth of frame ``index`` (0-based) in metres as float32 H×W; variant ``filled`` or ``raw``."""
        if variant not in _GT_DATASETS:
            raise UsageError(f"NYU GT variant {variant!r}: expected one of {', '.join(_GT_DATASETS)}")
        return np.ascontiguousarray(self._read(_GT_DATASETS[variant], index).T).astype(np.float32, copy=False)

    def scene(self, index: int) -> str:
        """Scene name of frame ``index`` (0-based), '' when the file has no ``scenes`` cell array."""
        if self._scenes is None:
            self._scenes = []
            if "scenes" in self.file:
                try:
                    refs = np.asarray(self.file["scenes"]).ravel()
                    self._scenes = [_h5_string(self.file, ref) for ref in refs]
                except (OSError, ValueError, KeyError, TypeError) as exc:
                    raise DataError(f"{self.path}: cannot read the 'scenes' cell array ({exc})") from exc
        return self._scenes[index] if index < len(self._scenes) else ""


def read_nyu_splits(path: Path, frame_count: int) -> dict[str, np.ndarray]:
    """``splits.mat`` → {"train": 0-based indices, "test": 0-based indices} (file holds 1-based
    ``trainNdxs``/``testNdxs``). Refuses indices outside 1..frame_count and overlapping splits."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (the official NYU v2 split file)")
    raw: dict[str, np.ndarray] = {}
    import scipy.io
    from scipy.io.matlab import MatReadError

    try:
        data = scipy.io.loadmat(path)
        raw = {k: np.asarray(data[k]) for k in ("trainNdxs", "testNdxs") if k in data}
    except (NotImplementedError, MatReadError, ValueError, TypeError, OSError, EOFError):
        # MATLAB v7.3 copies are HDF5 (loadmat raises NotImplementedError on them).
        try:
            handle = _open_h5(path)
        except DataError as exc:
            raise DataError(f"{path}: not a readable MATLAB file (expected trainNdxs/testNdxs)") from exc
        with handle:
            raw = {k: np.asarray(handle[k]) for k in ("trainNdxs", "testNdxs") if k in handle}
    if set(raw) != {"trainNdxs", "testNdxs"}:
        raise DataError(f"{path}: expected variables trainNdxs and testNdxs, found {sorted(raw)}")
    out: dict[str, np.ndarray] = {}
    for split, key in (("train", "trainNdxs"), ("test", "testNdxs")):
        values = raw[key].ravel()
        if values.size == 0 or not np.all(values == np.round(values)):
            raise DataError(f"{path}: {key} must be non-empty integer indices")
        indices = values.astype(np.int64)
        bad = indices[(indices < 1) | (indices > frame_count)]
        if bad.size:
            raise DataError(
                f"{path}: {key} names frame {int(bad[0])}, but the labeled .mat has frames 1..{frame_count}"
            )
        out[split] = indices - 1
    overlap = np.intersect1d(out["train"], out["test"])
    if overlap.size:
        raise DataError(f"{path}: frame {int(overlap[0]) + 1} is in both trainNdxs and testNdxs")
    return out


def _frame_checksum(image: np.ndarray, depth: np.ndarray) -> str:
    """sha256 of the frame's decoded arrays (the .mat has no per-frame files to hash)."""
    digest = hashlib.sha256(np.ascontiguousarray(image).tobytes())
    digest.update(np.ascontiguousarray(depth).tobytes())
    return digest.hexdigest()


def iter_nyu_frames(
    mat: NyuLabeledMat, indices: np.ndarray, variant: str
) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
    for index in indices:
        yield int(index), mat.image(int(index)), mat.depth(int(index), variant)


@register_preparer("nyu-v2")
def prepare_nyu_v2(
    manifest: DatasetManifest,
    source: Path | None,
    out: Path,
    *,
    splits: list[str] | None = None,
    gt_variants: list[str] | None = None,
    mat_file: str = LABELED_MAT,
    splits_file: str = SPLITS_MAT,
) -> Path:
    """Write ``splits`` (default train, test) × ``gt_variants`` (default filled, raw) of the
    labeled set from ``source/mat_file`` and ``source/splits_file``."""
    if source is None:
        raise UsageError(
            f"dataset {manifest.name!r} needs --source (folder with {mat_file} and {splits_file})"
        )
    wanted_splits = splits or ["train", "test"]
    variants = gt_variants or list(manifest.gt_variants)
    for variant in variants:
        if variant not in _GT_DATASETS:
            raise UsageError(f"gt_variants: {variant!r} is not one of {', '.join(_GT_DATASETS)}")
    with NyuLabeledMat(Path(source) / mat_file) as mat:
        official = read_nyu_splits(Path(source) / splits_file, mat.count)
        for split in wanted_splits:
            if split not in official:
                raise UsageError(f"splits: {split!r} is not one of train, test")
        intrinsics = manifest.intrinsics.to_intrinsics() if manifest.intrinsics else None
        if (mat.height, mat.width) != (480, 640):
            intrinsics = None  # the calibration belongs to the 480×640 Kinect RGB image
        for split in wanted_splits:
            for variant in variants:
                prepared = gt_split_name(manifest, split, variant)
                with PreparedWriter(
                    out, manifest.name, prepared, depth_storage="f32", overwrite=True
                ) as writer:
                    for index, image, depth in iter_nyu_frames(mat, official[split], variant):
                        writer.add(
                            sample_id=f"{index + 1:05d}",
                            rgb=image,
                            depth=depth,
                            kind=manifest.kind,
                            intrinsics=intrinsics,
                            scene_id=mat.scene(index),
                            frame_id=str(index + 1),
                            source_sha256=_frame_checksum(image, depth),
                            extra={"gt_variant": variant, "mat_index_1based": index + 1},
                        )
    write_dataset_card(out, manifest)
    return out
