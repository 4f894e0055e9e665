"""The ``synthetic-rooms`` dataset: frames rendered from procedural rooms with exact depth.

Scene seeds derive from (seed, split, scene index) through ``numpy.random.SeedSequence`` with a
different split code for train and test, and scene ids carry the split, so train and test never share
a scene. Each scene gives ``FRAMES_PER_SCENE`` frames from seeded camera poses; a frame whose depth
leaves [``MIN_DEPTH``, ``MAX_DEPTH``] (possible only with unusual intrinsics) is replaced by the next
seeded pose, so every emitted depth lies in that range and is > 0 everywhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from depthbench.errors import UsageError
from depthbench.prep.synthetic.raycast import default_intrinsics, render
from depthbench.prep.synthetic.scenes import make_room_scene, sample_camera_poses
from depthbench.types import Intrinsics

SPLIT_CODES = {"train": 1, "test": 2}
FRAMES_PER_SCENE = 8
MIN_DEPTH = 0.4
MAX_DEPTH = 10.0


@dataclass
class SyntheticFrame:
    """One rendered frame: rgb uint8 H×W×3, depth float32 H×W camera-z metres, pose 4×4 c2w."""

    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: Intrinsics
    pose: np.ndarray
    scene_id: str
    frame_id: str


def scene_seed(split: str, index: int, seed: int) -> int:
    """Seed of scene ``index`` of ``split``: disjoint streams per split via SeedSequence."""
    if split not in SPLIT_CODES:
        raise UsageError(f"split: expected one of {sorted(SPLIT_CODES)}, got {split!r}")
    return int(np.random.SeedSequence([int(seed), SPLIT_CODES[split], int(index)]).generate_state(1, np.uint64)[0] >> 1)


def synthetic_rooms_frames(split: str, n_frames: int, height: int = 240, width: int = 320, seed: int = 0) -> Iterator[SyntheticFrame]:
    """Yield ``n_frames`` frames of ``split`` (train or test), deterministic for ``seed``."""
    if n_frames < 0:
        raise UsageError(f"n_frames: expected >= 0, got {n_frames}")
    intrinsics = default_intrinsics(height, width)
    produced = 0
    index = 0
    while produced < n_frames:
        s = scene_seed(split, index, seed)
        scene = make_room_scene(s, "room")
        scene_id = f"{split}-{seed}-{index:05d}"
        wanted = min(FRAMES_PER_SCENE, n_frames - produced)
        poses = sample_camera_poses(scene, 3 * FRAMES_PER_SCENE, seed=s)
        frame = 0
        for pose in poses:
            if frame == wanted:
                break
            rgb, depth = render(scene, pose, intrinsics, height, width)
            if not (depth.min() >= MIN_DEPTH and depth.max() <= MAX_DEPTH):
                continue
            yield SyntheticFrame(rgb, depth, intrinsics, pose, scene_id, f"{scene_id}-{frame:03d}")
            frame += 1
            produced += 1
        index += 1
