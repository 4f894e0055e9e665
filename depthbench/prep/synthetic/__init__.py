"""Synthetic indoor scenes with perfect depth: a numba ray caster, procedural rooms, the
``synthetic-rooms`` frames and the Unreal-1k generation hooks (scene backends + fly-around generator).

Conventions: world right-handed, z up, metres; poses 4×4 camera-to-world with camera x right,
y down, z forward; depth is camera z in metres; intrinsics in depthbench's pixel convention (pixel
centre at integer coordinates, so a centred principal point is cx = W/2 − 0.5)."""

from depthbench.prep.synthetic.backends import BuiltinBackend, ObjectOfInterest, SceneBackend
from depthbench.prep.synthetic.frames import SyntheticFrame, synthetic_rooms_frames
from depthbench.prep.synthetic.generator import GeneratedFrame, GeneratorConfig, generate_unreal1k, sample_indices
from depthbench.prep.synthetic.geometry import Scene, SceneBuilder, SceneObject, look_at
from depthbench.prep.synthetic.raycast import cast_ray, default_intrinsics, render
from depthbench.prep.synthetic.scenes import make_room_scene, sample_camera_poses

__all__ = [
    "BuiltinBackend",
    "GeneratedFrame",
    "GeneratorConfig",
    "ObjectOfInterest",
    "Scene",
    "SceneBackend",
    "SceneBuilder",
    "SceneObject",
    "SyntheticFrame",
    "cast_ray",
    "default_intrinsics",
    "generate_unreal1k",
    "look_at",
    "make_room_scene",
    "render",
    "sample_camera_poses",
    "sample_indices",
    "synthetic_rooms_frames",
]
