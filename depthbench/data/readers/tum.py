"""Preparer of ``tum-rgbd``: the TUM RGB-D benchmark (Sturm et al., IROS 2012).

A sequence folder (``rgbd_dataset_freiburg3_walking_xyz/``) holds ``rgb.txt`` and ``depth.txt``
(lines ``timestamp relative/path.png``; ``#`` starts a comment), ``rgb/*.png`` (8-bit RGB 640×480)
and ``depth/*.png`` (16-bit, metres = value / 5000, 0 = missing).

Association (the benchmark's ``associate.py`` rule, written from its description): every pair
(rgb, depth) with |t_rgb − t_depth| < ``max_difference`` (0.02 s) is a candidate; candidates are
taken in increasing time difference, each stamp used at most once (one-to-one), and the result is
sorted by RGB time. Depth PNG values are stored as they are (16-bit PNG, ``depth_scale`` 5000), so
preparation is lossless; the RGB PNG bytes are stored unmodified.

Intrinsics come from the camera named in the sequence folder (``freiburg1``/``2``/``3``), the TUM
page's calibrated values (the page lists small nonzero distortion coefficients for fr1 and fr2,
zero for fr3); images are stored as published, not undistorted here.
"""

from __future__ import annotations

import hashlib
import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image

from depthbench.catalog import DatasetManifest, catalog_dir
from depthbench.data.card import write_dataset_card
from depthbench.data.prepared import PreparedWriter
from depthbench.errors import DataError, UsageError
from depthbench.prepare import register_preparer
from depthbench.types import Intrinsics

TUM_DEPTH_SCALE = 5000.0
# https://cvg.cit.tum.de/data/datasets/rgbd-dataset/file_formats#intrinsic_camera_calibration_of_the_kinect
TUM_INTRINSICS: dict[str, Intrinsics] = {
    "freiburg1": Intrinsics(517.3, 516.5, 318.6, 255.3),
    "freiburg2": Intrinsics(520.9, 521.0, 325.1, 249.7),
    "freiburg3": Intrinsics(535.4, 539.2, 320.1, 247.6),
}


def read_timestamp_list(path: Path) -> list[tuple[float, str]]:
    """``rgb.txt``/``depth.txt`` → [(timestamp seconds, relative path)] in file order."""
    if not path.is_file():
        raise DataError(f"{path}: file not found (TUM sequences list their frames in rgb.txt and depth.txt)")
    entries: list[tuple[float, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.replace(",", " ").split()
        try:
            entries.append((float(parts[0]), parts[1]))
        except (ValueError, IndexError) as exc:
            raise DataError(f"{path}:{number}: expected 'timestamp filename', got {line!r}") from exc
    return entries


def associate(
    first: list[tuple[float, str]],
    second: list[tuple[float, str]],
    max_difference: float = 0.02,
    offset: float = 0.0,
) -> list[tuple[int, int]]:
    """One-to-one nearest-time matches (index in ``first``, index in ``second``), sorted by
    ``first``'s time: candidates with |t1 − (t2 + offset)| < max_difference, greedily by increasing
    difference, each stamp used once (TUM ``associate.py`` rule)."""
    t1 = np.array([t for t, _ in first], dtype=np.float64)
    t2 = np.array([t for t, _ in second], dtype=np.float64) + offset
    candidates: list[tuple[float, int, int]] = []
    order = np.argsort(t2, kind="stable")
    sorted_t2 = t2[order]
    for i, t in enumerate(t1):
        lo = np.searchsorted(sorted_t2, t - max_difference, side="left")
        hi = np.searchsorted(sorted_t2, t + max_difference, side="right")
        for k in range(lo, hi):
            diff = abs(t - sorted_t2[k])
            if diff < max_difference:
                candidates.append((diff, i, int(order[k])))
    candidates.sort()
    used1: set[int] = set()
    used2: set[int] = set()
    matches: list[tuple[int, int]] = []
    for _, i, j in candidates:
        if i not in used1 and j not in used2:
            used1.add(i)
            used2.add(j)
            matches.append((i, j))
    matches.sort(key=lambda m: (t1[m[0]], m[0]))
    return matches


def read_sequence_list(name: str) -> list[str]:
    """Sequence folder names listed in ``loaders/splits/NAME`` (one a line, ``#`` comments)."""
    path = catalog_dir("loaders") / "splits" / name
    if not path.is_file():
        raise DataError(f"{path}: sequence list not found")
    names = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
    return [n for n in names if n and not n.startswith("#")]


def camera_of_sequence(name: str) -> str:
    match = re.search(r"freiburg([123])", name)
    if not match:
        raise DataError(
            f"{name}: sequence folder name does not say its camera (expected 'freiburg1', '2' or '3' in it)"
        )
    return f"freiburg{match.group(1)}"


def read_tum_depth(path: Path) -> np.ndarray:
    """16-bit depth PNG → uint16 H×W (metres = value / 5000)."""
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode not in ("I;16", "I;16B", "I;16L", "I"):
                raise DataError(f"{path}: expected a 16-bit depth PNG, got mode {image.mode}")
            return np.array(image).astype(np.uint16)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found (listed in depth.txt)") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: corrupt PNG ({exc})") from exc


def read_tum_rgb(path: Path) -> tuple[bytes, tuple[int, int]]:
    """RGB PNG → (its bytes, (H, W)); decodes it fully once to reject corrupt files."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise DataError(f"{path}: file not found (listed in rgb.txt)") from exc
    try:
        from io import BytesIO

        with Image.open(BytesIO(data)) as image:
            image.load()
            if image.mode != "RGB":
                raise DataError(f"{path}: expected an 8-bit RGB PNG, got mode {image.mode}")
            return data, (image.height, image.width)
    except (OSError, SyntaxError, ValueError) as exc:
        raise DataError(f"{path}: corrupt PNG ({exc})") from exc


@register_preparer("tum-rgbd")
def prepare_tum_rgbd(
    manifest: DatasetManifest,
    source: Path | None,
    out: Path,
    *,
    sequences: dict[str, list[str]] | None = None,
    sequence_lists: dict[str, str] | None = None,
    max_difference: float = 0.02,
    stride: int = 1,
    skip_corrupt: bool = False,
) -> Path:
    """Prepare ``sequences`` (split → sequence folder names under ``source``), or when not given
    ``sequence_lists`` (split → list file under loaders/splits/, one name per line), with RGB/depth
    associated within ``max_difference`` seconds, every
    ``stride``-th pair. ``skip_corrupt`` skips unreadable frames with a warning count instead of
    stopping at the first one."""
    if source is None:
        raise UsageError(
            f"dataset {manifest.name!r} needs --source (folder holding the TUM sequence folders)"
        )
    if stride < 1:
        raise UsageError(f"stride: expected ≥ 1, got {stride}")
    if not sequences:
        sequences = {split: read_sequence_list(name) for split, name in (sequence_lists or {}).items()}
    if not sequences:
        raise UsageError(
            "tum-rgbd: give option 'sequences' (split → folder names) or 'sequence_lists'; see preprocess/tum-rgbd.yaml"
        )
    for split in sequences:
        if split not in manifest.splits:
            raise UsageError(f"tum-rgbd: split {split!r} is not one of {', '.join(manifest.splits)}")
    for split, names in sequences.items():
        skipped = 0
        with PreparedWriter(
            out, manifest.name, split, depth_storage="png16", depth_scale=TUM_DEPTH_SCALE, overwrite=True
        ) as writer:
            for name in names:
                folder = Path(source) / name
                if not folder.is_dir():
                    raise DataError(f"{folder}: sequence folder not found (split {split!r} lists it)")
                intrinsics = TUM_INTRINSICS[camera_of_sequence(name)]
                rgb_list = read_timestamp_list(folder / "rgb.txt")
                depth_list = read_timestamp_list(folder / "depth.txt")
                pairs = associate(rgb_list, depth_list, max_difference)
                for i, j in pairs[::stride]:
                    t_rgb, rgb_rel = rgb_list[i]
                    t_depth, depth_rel = depth_list[j]
                    try:
                        rgb_bytes, hw = read_tum_rgb(folder / rgb_rel)
                        depth = read_tum_depth(folder / depth_rel)
                        if depth.shape != hw:
                            raise DataError(
                                f"{folder / depth_rel}: depth is {depth.shape}, RGB {folder / rgb_rel} is {hw}"
                            )
                    except DataError:
                        if not skip_corrupt:
                            raise
                        skipped += 1
                        continue
                    digest = hashlib.sha256(rgb_bytes)
                    digest.update(depth.tobytes())
                    writer.add(
                        sample_id=f"{name}/{t_rgb:.6f}",
                        rgb=rgb_bytes,
                        image_hw=hw,
                        depth=depth,
                        kind=manifest.kind,
                        intrinsics=intrinsics,
                        scene_id=name,
                        frame_id=f"{t_rgb:.6f}",
                        source_sha256=digest.hexdigest(),
                        extra={
                            "rgb_timestamp": t_rgb,
                            "depth_timestamp": t_depth,
                            "rgb_file": rgb_rel,
                            "depth_file": depth_rel,
                        },
                    )
        if skipped:
            warnings.warn(f"tum-rgbd/{split}: skipped {skipped} unreadable frame(s)", stacklevel=2)
    write_dataset_card(out, manifest)
    return out
