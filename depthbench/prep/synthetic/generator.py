"""Unreal-1k generation: fly a camera around objects of interest, render, and sample a test set.

Seed 000's recipe: for each scene and each object of interest, a virtual camera orbits the object
capturing RGB + depth (640×480); N frames (1,000) are sampled at random from all of them.

Two passes, both deterministic for ``seed``:

1. Plan (resumable per scene). For scene s, object k, frame j the candidate eye is on an orbit
   around the object's box: azimuth θ = θ₀ + 2π·j/F + jitter, radius = clamp(1.5·‖half-extent_xy‖ +
   0.8 m, 1.0, 3.0) · U(0.85, 1.15), height = top of the box + U(0.1, 0.8) m; it looks at the box centre
   plus a jitter of ±0.3 half-extent. A candidate is accepted when the backend does not report a
   collision (``free_space``), its rendered depth lies in [0.4, 10] m everywhere (nothing inside the
   near limit, no hole), and the object is not occluded: the depth at the projected box centre is
   ≥ z_centre − ‖half-extent‖ (the first surface hit is the object or behind it). Up to
   ``tries_per_frame`` candidates are drawn (retry a swings up to ±a·45° off the planned azimuth and
   shrinks the radius by 0.85^a); a frame whose tries all fail is dropped. The accepted poses of a scene go to ``plan/<scene>.json``, written atomically: its
   existence is the scene's done-marker, so an interrupted run resumes at the next scene.
2. Sample and write. N of the planned frames are drawn uniformly without replacement
   (:func:`sample_indices`), re-rendered (renderers are deterministic for a pose; this equals
   rendering and storing every frame and sampling afterwards, without storing >20k frames) and passed to the
   sink in plan order.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from depthbench.errors import UsageError
from depthbench.prep.synthetic.backends import ObjectOfInterest, SceneBackend
from depthbench.prep.synthetic.geometry import look_at
from depthbench.prep.synthetic.raycast import default_intrinsics
from depthbench.types import Intrinsics

MIN_DEPTH = 0.4
MAX_DEPTH = 10.0


@dataclass(frozen=True)
class GeneratorConfig:
    """Everything that determines the generated set (hashed into ``plan/config.json``)."""

    backend: str
    scenes: int
    objects_per_scene: int
    frames_per_object: int
    sample: int = 1000
    seed: int = 0
    height: int = 480
    width: int = 640
    fx_over_width: float = 0.8
    tries_per_frame: int = 8

    def intrinsics(self) -> Intrinsics:
        return default_intrinsics(self.height, self.width, self.fx_over_width)


@dataclass
class PlannedFrame:
    scene_id: str
    object_name: str
    object_index: int
    frame_index: int
    pose: list[float]  # 16 numbers, row-major 4×4 camera-to-world

    @property
    def frame_id(self) -> str:
        return f"{self.scene_id}/{self.object_index:03d}-{self.object_name}/{self.frame_index:03d}"


@dataclass
class GeneratedFrame:
    """One output frame: rgb uint8 H×W×3, depth float32 camera-z metres, pose 4×4 c2w."""

    sample_id: str
    scene_id: str
    frame_id: str
    object_name: str
    rgb: np.ndarray
    depth: np.ndarray
    intrinsics: Intrinsics
    pose: np.ndarray
    extra: dict = field(default_factory=dict)


def _rng(*key: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([int(k) for k in key]))


def _name_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


def orbit_candidate(obj: ObjectOfInterest, frame_index: int, frames: int, attempt: int, rng: np.random.Generator,
                    theta0: float) -> tuple[np.ndarray, np.ndarray]:
    """(eye, look-at target) of one fly-around candidate (formula in the module docstring)."""
    c, h = obj.center, obj.half_extent
    # Retries swing further off the planned azimuth (±attempt·45°) and come closer (×0.85 each).
    swing = rng.uniform(-1.0, 1.0) * attempt * math.pi / 4
    theta = theta0 + 2 * math.pi * frame_index / frames + rng.uniform(-0.5, 0.5) * 2 * math.pi / frames + swing
    base = float(np.clip(1.5 * np.hypot(h[0], h[1]) + 0.8, 1.0, 3.0))
    radius = base * rng.uniform(0.85, 1.15) * 0.85**attempt
    eye = np.array([c[0] + radius * math.cos(theta), c[1] + radius * math.sin(theta), c[2] + h[2] + rng.uniform(0.1, 0.8)])
    target = c + rng.uniform(-0.3, 0.3, 3) * h
    return eye, target


def frame_checks(depth: np.ndarray, pose: np.ndarray, intrinsics: Intrinsics, obj: ObjectOfInterest) -> bool:
    """Depth within [MIN_DEPTH, MAX_DEPTH] everywhere and the object's centre not occluded."""
    if not (np.isfinite(depth).all() and depth.min() >= MIN_DEPTH and depth.max() <= MAX_DEPTH):
        return False
    cam = pose[:3, :3].T @ (obj.center - pose[:3, 3])
    if cam[2] <= 0:
        return False
    u = int(round(intrinsics.fx * cam[0] / cam[2] + intrinsics.cx))
    v = int(round(intrinsics.fy * cam[1] / cam[2] + intrinsics.cy))
    if not (0 <= u < depth.shape[1] and 0 <= v < depth.shape[0]):
        return False
    return bool(depth[v, u] >= cam[2] - np.linalg.norm(obj.half_extent))


def plan_scene(backend: SceneBackend, scene: str, scene_index: int, config: GeneratorConfig) -> list[PlannedFrame]:
    """Accepted fly-around poses of one scene (deterministic for config.seed)."""
    backend.load_scene(scene)
    objects = backend.list_objects()
    # A seeded choice of up to K objects, kept in listing order.
    pick = _rng(config.seed, 0x0B, scene_index).permutation(len(objects))[: config.objects_per_scene]
    intrinsics = config.intrinsics()
    planned: list[PlannedFrame] = []
    for k in sorted(int(i) for i in pick):
        obj = objects[k]
        theta0 = _rng(config.seed, 0x7E, scene_index, k).uniform(0, 2 * math.pi)
        for j in range(config.frames_per_object):
            rng = _rng(config.seed, 0xF1, scene_index, k, j, _name_key(obj.name))
            for attempt in range(config.tries_per_frame):
                eye, target = orbit_candidate(obj, j, config.frames_per_object, attempt, rng, theta0)
                if backend.free_space(eye) is False:
                    continue
                pose = look_at(eye, target)
                backend.set_camera(pose, intrinsics, config.height, config.width)
                _, depth = backend.render()
                if frame_checks(depth, pose, intrinsics, obj):
                    planned.append(PlannedFrame(scene, obj.name, k, j, pose.reshape(-1).tolist()))
                    break
    return planned


def sample_indices(total: int, n: int, seed: int) -> np.ndarray:
    """min(n, total) distinct indices drawn uniformly without replacement, sorted; reproducible."""
    if n < 0 or total < 0:
        raise UsageError(f"--sample: expected a non-negative count, got {n}")
    return np.sort(_rng(seed, 0x5A).choice(total, size=min(n, total), replace=False))


def _write_json_atomic(path: Path, data: object) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def plan_all(backend: SceneBackend, out_dir: Path, config: GeneratorConfig, progress: bool = True) -> list[PlannedFrame]:
    """Pass 1 over every scene, skipping scenes whose plan file exists (resume)."""
    plan_dir = Path(out_dir) / "plan"
    plan_dir.mkdir(parents=True, exist_ok=True)
    config_path = plan_dir / "config.json"
    if config_path.exists():
        if json.loads(config_path.read_text()) != asdict(config):
            raise UsageError(f"--out {out_dir}: holds a plan made with other settings ({config_path}); use a new --out")
    else:
        _write_json_atomic(config_path, asdict(config))
    scenes = backend.list_scenes()[: config.scenes]
    if len(scenes) < config.scenes:
        raise UsageError(f"--scenes {config.scenes}: backend {backend.name!r} has only {len(scenes)} scenes")
    from tqdm import tqdm

    frames: list[PlannedFrame] = []
    for index, scene in enumerate(tqdm(scenes, desc="plan scenes", unit="scene", disable=not progress)):
        path = plan_dir / f"{index:04d}-{scene.replace('/', '_')}.json"
        if not path.exists():
            _write_json_atomic(path, [asdict(f) for f in plan_scene(backend, scene, index, config)])
        frames.extend(PlannedFrame(**row) for row in json.loads(path.read_text()))
    return frames


def render_samples(backend: SceneBackend, frames: list[PlannedFrame], config: GeneratorConfig, progress: bool = True) -> Iterator[GeneratedFrame]:
    """Pass 2: re-render the sampled frames, loading each scene once (frames are in plan order)."""
    from tqdm import tqdm

    intrinsics = config.intrinsics()
    chosen = [frames[i] for i in sample_indices(len(frames), config.sample, config.seed)]
    loaded = None
    for number, frame in enumerate(tqdm(chosen, desc="render sample", unit="frame", disable=not progress)):
        if frame.scene_id != loaded:
            backend.load_scene(frame.scene_id)
            loaded = frame.scene_id
        pose = np.asarray(frame.pose, dtype=np.float64).reshape(4, 4)
        backend.set_camera(pose, intrinsics, config.height, config.width)
        rgb, depth = backend.render()
        yield GeneratedFrame(
            sample_id=f"{number:05d}", scene_id=frame.scene_id, frame_id=frame.frame_id, object_name=frame.object_name,
            rgb=rgb, depth=depth, intrinsics=intrinsics, pose=pose,
            extra={"pose_c2w": frame.pose, "object": frame.object_name, "object_index": frame.object_index, "backend": config.backend},
        )


def generate_unreal1k(backend: SceneBackend, out_dir: str | Path, config: GeneratorConfig,
                      sink: Callable[[GeneratedFrame], None], progress: bool = True) -> int:
    """Plan every scene (resumable), sample ``config.sample`` frames and feed them to ``sink``.
    Returns the number of frames written. The sink owns the storage format (see ``writers.py``)."""
    frames = plan_all(backend, Path(out_dir), config, progress)
    if not frames:
        raise UsageError("generate: no frame passed the checks; try more scenes, objects or frames per object")
    written = 0
    for frame in render_samples(backend, frames, config, progress):
        sink(frame)
        written += 1
    return written
