"""Scene backends for the Unreal-1k generator: the hook protocol and the built-in ray-cast backend.

A backend owns a set of scenes and renders RGB + camera-z depth (metres) for a camera pose given in
depthbench's world convention: right-handed, z up, metres; poses are 4×4 camera-to-world with camera
axes x right, y down, z forward. Backends that use another convention (Unreal: left-handed,
centimetres) convert at their boundary, so the generator never sees engine units.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from depthbench.errors import UsageError
from depthbench.prep.synthetic.geometry import Scene, clearance
from depthbench.prep.synthetic.raycast import render
from depthbench.prep.synthetic.scenes import make_room_scene
from depthbench.types import Intrinsics


@dataclass(frozen=True)
class ObjectOfInterest:
    """An object the camera flies around: its name and world axis-aligned bounding box (metres)."""

    name: str
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]

    @property
    def center(self) -> np.ndarray:
        return (np.asarray(self.bbox_min, dtype=np.float64) + np.asarray(self.bbox_max, dtype=np.float64)) / 2

    @property
    def half_extent(self) -> np.ndarray:
        return (np.asarray(self.bbox_max, dtype=np.float64) - np.asarray(self.bbox_min, dtype=np.float64)) / 2


@runtime_checkable
class SceneBackend(Protocol):
    """What the generator needs from a renderer. Call order: list_scenes → load_scene(name) →
    list_objects → (set_camera → render)* → … → close."""

    name: str

    def list_scenes(self) -> list[str]:
        """Names of the scenes this backend can load, in a fixed order."""
        ...

    def load_scene(self, scene: str) -> None:
        """Make ``scene`` the current scene."""
        ...

    def list_objects(self) -> list[ObjectOfInterest]:
        """Objects of interest of the current scene, in a fixed order."""
        ...

    def set_camera(self, pose_c2w: np.ndarray, intrinsics: Intrinsics, height: int, width: int) -> None:
        """Place the camera (4×4 camera-to-world) and set its intrinsics and image size."""
        ...

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        """(rgb uint8 H×W×3, depth float32 H×W camera-z metres) of the current camera."""
        ...

    def free_space(self, position: np.ndarray) -> bool | None:
        """Whether a camera at ``position`` is clear of geometry; None when the backend cannot tell
        (the generator then relies on the rendered depth: nothing closer than the near limit)."""
        ...

    def close(self) -> None:
        """Release the renderer (sockets, processes)."""
        ...


BUILTIN_KINDS = ("living_room", "kitchen", "office")


class BuiltinBackend:
    """Procedural living rooms, kitchens and offices rendered by the built-in numba ray caster.

    Scene i of ``n_scenes`` has layout ``BUILTIN_KINDS[i % 3]`` and a seed derived from
    (``seed``, i), so the scene set is deterministic for a seed."""

    name = "builtin"

    def __init__(self, n_scenes: int, seed: int = 0, shadows: bool = True, min_clearance: float = 0.3) -> None:
        if n_scenes <= 0:
            raise UsageError(f"--scenes: expected a positive number of scenes, got {n_scenes}")
        self.seed, self.shadows, self.min_clearance = int(seed), bool(shadows), float(min_clearance)
        self._names = [f"{BUILTIN_KINDS[i % len(BUILTIN_KINDS)]}-{i:03d}" for i in range(n_scenes)]
        self._scene: Scene | None = None
        self._camera: tuple[np.ndarray, Intrinsics, int, int] | None = None

    def list_scenes(self) -> list[str]:
        return list(self._names)

    def scene_seed(self, name: str) -> int:
        index = self._names.index(name)
        return int(np.random.SeedSequence([self.seed, 0xB1, index]).generate_state(1, np.uint64)[0] >> 1)

    def load_scene(self, scene: str) -> None:
        if scene not in self._names:
            raise UsageError(f"builtin backend: unknown scene {scene!r}; expected one of {self._names[:5]}…")
        kind = scene.rsplit("-", 1)[0]
        self._scene = make_room_scene(self.scene_seed(scene), kind, shadows=self.shadows)
        self._scene.scene_id = scene

    @property
    def scene(self) -> Scene:
        if self._scene is None:
            raise UsageError("builtin backend: call load_scene first")
        return self._scene

    def list_objects(self) -> list[ObjectOfInterest]:
        return [ObjectOfInterest(o.name, o.bbox_min, o.bbox_max) for o in self.scene.objects]

    def set_camera(self, pose_c2w: np.ndarray, intrinsics: Intrinsics, height: int, width: int) -> None:
        self._camera = (np.asarray(pose_c2w, dtype=np.float64), intrinsics, int(height), int(width))

    def render(self) -> tuple[np.ndarray, np.ndarray]:
        if self._camera is None:
            raise UsageError("builtin backend: call set_camera before render")
        pose, intrinsics, height, width = self._camera
        return render(self.scene, pose, intrinsics, height, width)

    def free_space(self, position: np.ndarray) -> bool | None:
        return clearance(self.scene, np.asarray(position, dtype=np.float64)) >= self.min_clearance

    def close(self) -> None:
        self._scene = None
        self._camera = None
