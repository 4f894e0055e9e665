"""Synthetic indoor scenes with perfect depth: a numba ray caster, procedural rooms, the
``synthetic-rooms`` frames and the Unreal-1k generation hooks (scene backends + fly-around generator)."""

from depthbench.prep.synthetic.frames import SyntheticFrame, synthetic_rooms_frames
from depthbench.prep.synthetic.geometry import Scene, SceneBuilder, SceneObject, look_at
from depthbench.prep.synthetic.raycast import cast_ray, default_intrinsics, render
from depthbench.prep.synthetic.scenes import make_room_scene, sample_camera_poses

__all__ = [
    "Scene",
    "SceneBuilder",
    "SceneObject",
    "SyntheticFrame",
    "cast_ray",
    "default_intrinsics",
    "look_at",
    "make_room_scene",
    "render",
    "sample_camera_poses",
    "synthetic_rooms_frames",
]
