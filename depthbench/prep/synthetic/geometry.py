"""Scene description for the built-in ray caster: primitives, materials, lights, and a builder.

World frame: metres, z up, the room floor at z = 0. Camera frame (depthbench convention, as OpenCV):
x right, y down, z forward; poses are 4×4 camera-to-world matrices.

Every primitive is one row of a flat table so that the numba kernels in ``raycast.py`` can loop over
plain arrays:

- ``PLANE``: ``n·x = d`` with unit normal ``n`` (params 0..3 = nx, ny, nz, d). Room walls use
  planes with normals pointing into the room; from inside a closed room the nearest plane hit is
  always on the room's boundary.
- ``BOX``: oriented box, params 0..2 centre, 3..5 half extents, 6..14 rotation R (row-major) whose
  rows are the box's local axes in world coordinates, so ``q = R (x − c)`` is the local point.
- ``CYLINDER``: vertical (z-axis) capped cylinder, params 0..4 = cx, cy, z0, z1, radius.
- ``SPHERE``: params 0..3 = centre, radius.

Materials (one row per primitive): colour a (rgb in [0, 1]), colour b, pattern, cell size in metres.
Patterns are evaluated in the primitive's local frame: ``SOLID`` (colour a), ``CHECKER`` (3-D checker
of cell size s), ``STRIPES`` (stripes along local x), ``NOISE`` (two-octave value noise mixing a, b).
Lights: rows of (x, y, z, r, g, b, falloff) — point lights with intensity
``rgb / (1 + (dist/falloff)^2)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from depthbench.errors import UsageError

PLANE, BOX, CYLINDER, SPHERE = 0, 1, 2, 3
SOLID, CHECKER, STRIPES, NOISE = 0, 1, 2, 3
PARAM_WIDTH = 16
MATERIAL_WIDTH = 8
LIGHT_WIDTH = 7


@dataclass(frozen=True)
class SceneObject:
    """An object of interest (a piece of furniture): its name, primitive rows and world AABB."""

    name: str
    primitive_rows: tuple[int, ...]
    bbox_min: tuple[float, float, float]
    bbox_max: tuple[float, float, float]

    @property
    def center(self) -> np.ndarray:
        return (np.asarray(self.bbox_min) + np.asarray(self.bbox_max)) / 2.0

    @property
    def half_extent(self) -> np.ndarray:
        return (np.asarray(self.bbox_max) - np.asarray(self.bbox_min)) / 2.0


@dataclass
class Scene:
    """A packed scene. ``room_min``/``room_max`` bound the room interior (None for free scenes)."""

    scene_id: str
    kind: str
    kinds: np.ndarray  # int32 (N,)
    params: np.ndarray  # float64 (N, PARAM_WIDTH)
    bounds: np.ndarray  # float64 (N, 4): bounding sphere (centre, radius); radius < 0 for planes
    materials: np.ndarray  # float64 (N, MATERIAL_WIDTH)
    lights: np.ndarray  # float64 (L, LIGHT_WIDTH)
    ambient: float = 0.25
    shadows: bool = True
    room_min: np.ndarray | None = None
    room_max: np.ndarray | None = None
    objects: list[SceneObject] = field(default_factory=list)


def yaw_rotation(yaw: float) -> np.ndarray:
    """Rotation whose rows are the local axes of a box turned by ``yaw`` radians about world z."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


class SceneBuilder:
    """Collects primitives and lights, then packs them into a :class:`Scene`."""

    def __init__(self, scene_id: str = "scene", kind: str = "custom") -> None:
        self.scene_id = scene_id
        self.kind = kind
        self._kinds: list[int] = []
        self._params: list[np.ndarray] = []
        self._bounds: list[np.ndarray] = []
        self._materials: list[np.ndarray] = []
        self._lights: list[np.ndarray] = []
        self._objects: list[SceneObject] = []
        self.room_min: np.ndarray | None = None
        self.room_max: np.ndarray | None = None

    @staticmethod
    def material(color_a, color_b=None, pattern: int = SOLID, scale: float = 0.25) -> np.ndarray:
        b = color_a if color_b is None else color_b
        return np.array([*color_a, *b, float(pattern), float(scale)], dtype=np.float64)

    def _add(self, kind: int, values: list[float], bound: np.ndarray, material: np.ndarray) -> int:
        row = np.zeros(PARAM_WIDTH)
        row[: len(values)] = values
        self._kinds.append(kind)
        self._params.append(row)
        self._bounds.append(bound)
        self._materials.append(np.asarray(material, dtype=np.float64))
        return len(self._kinds) - 1

    def add_plane(self, normal, offset: float, material: np.ndarray) -> int:
        n = np.asarray(normal, dtype=np.float64)
        norm = np.linalg.norm(n)
        if norm == 0:
            raise UsageError("add_plane: normal must be non-zero")
        return self._add(PLANE, [*(n / norm), offset / norm], np.array([0, 0, 0, -1.0]), material)

    def add_box(self, center, half, material: np.ndarray, rotation: np.ndarray | None = None) -> int:
        r = np.eye(3) if rotation is None else np.asarray(rotation, dtype=np.float64)
        h = np.asarray(half, dtype=np.float64)
        if np.any(h <= 0):
            raise UsageError(f"add_box: half extents must be > 0, got {h.tolist()}")
        c = np.asarray(center, dtype=np.float64)
        return self._add(BOX, [*c, *h, *r.reshape(-1)], np.array([*c, np.linalg.norm(h) * (1 + 1e-9)]), material)

    def add_cylinder(self, cx: float, cy: float, z0: float, z1: float, radius: float, material: np.ndarray) -> int:
        if not (z1 > z0 and radius > 0):
            raise UsageError(f"add_cylinder: need z1 > z0 and radius > 0, got z0={z0}, z1={z1}, r={radius}")
        half_h = (z1 - z0) / 2
        bound = np.array([cx, cy, (z0 + z1) / 2, np.hypot(half_h, radius) * (1 + 1e-9)])
        return self._add(CYLINDER, [cx, cy, z0, z1, radius], bound, material)

    def add_sphere(self, center, radius: float, material: np.ndarray) -> int:
        if radius <= 0:
            raise UsageError(f"add_sphere: radius must be > 0, got {radius}")
        c = np.asarray(center, dtype=np.float64)
        return self._add(SPHERE, [*c, radius], np.array([*c, radius * (1 + 1e-9)]), material)

    def add_light(self, position, rgb, falloff: float = 4.0) -> None:
        self._lights.append(np.array([*position, *rgb, falloff], dtype=np.float64))

    def add_room(self, size, wall_materials: list[np.ndarray]) -> list[int]:
        """Floor, ceiling and four walls of the box [0, sx]×[0, sy]×[0, sz] (normals inward).

        ``wall_materials``: floor, ceiling, wall x=0, wall x=sx, wall y=0, wall y=sy."""
        sx, sy, sz = (float(v) for v in size)
        self.room_min = np.zeros(3)
        self.room_max = np.array([sx, sy, sz])
        planes = [((0, 0, 1), 0.0), ((0, 0, -1), -sz), ((1, 0, 0), 0.0), ((-1, 0, 0), -sx), ((0, 1, 0), 0.0), ((0, -1, 0), -sy)]
        return [self.add_plane(n, d, m) for (n, d), m in zip(planes, wall_materials, strict=True)]

    def add_object(self, name: str, rows: list[int]) -> SceneObject:
        lo, hi = primitives_aabb(np.array([self._kinds[i] for i in rows]), np.array([self._params[i] for i in rows]))
        obj = SceneObject(name, tuple(rows), tuple(float(v) for v in lo), tuple(float(v) for v in hi))
        self._objects.append(obj)
        return obj

    def build(self, ambient: float = 0.25, shadows: bool = True) -> Scene:
        n = len(self._kinds)
        return Scene(
            scene_id=self.scene_id,
            kind=self.kind,
            kinds=np.asarray(self._kinds, dtype=np.int32).reshape(n),
            params=np.asarray(self._params, dtype=np.float64).reshape(n, PARAM_WIDTH),
            bounds=np.asarray(self._bounds, dtype=np.float64).reshape(n, 4),
            materials=np.asarray(self._materials, dtype=np.float64).reshape(n, MATERIAL_WIDTH),
            lights=np.asarray(self._lights, dtype=np.float64).reshape(len(self._lights), LIGHT_WIDTH),
            ambient=float(ambient),
            shadows=bool(shadows),
            room_min=self.room_min,
            room_max=self.room_max,
            objects=list(self._objects),
        )


def primitives_aabb(kinds: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """World axis-aligned bounding box of bounded primitives (planes are not allowed)."""
    lo = np.full(3, np.inf)
    hi = np.full(3, -np.inf)
    for kind, p in zip(kinds, params, strict=True):
        if kind == BOX:
            # |R^T h| per world axis: the box's extent along each world axis.
            ext = np.abs(p[6:15].reshape(3, 3).T) @ p[3:6]
            a, b = p[0:3] - ext, p[0:3] + ext
        elif kind == CYLINDER:
            a = np.array([p[0] - p[4], p[1] - p[4], p[2]])
            b = np.array([p[0] + p[4], p[1] + p[4], p[3]])
        elif kind == SPHERE:
            a, b = p[0:3] - p[3], p[0:3] + p[3]
        else:
            raise UsageError("primitives_aabb: planes are unbounded and cannot be part of an object")
        lo, hi = np.minimum(lo, a), np.maximum(hi, b)
    return lo, hi


def distance_to_primitive(kind: int, p: np.ndarray, x: np.ndarray) -> float:
    """Euclidean distance from point ``x`` to the solid primitive (0 inside); planes: signed n·x − d."""
    if kind == PLANE:
        return float(p[0:3] @ x - p[3])
    if kind == SPHERE:
        return max(float(np.linalg.norm(x - p[0:3]) - p[3]), 0.0)
    if kind == BOX:
        q = np.abs(p[6:15].reshape(3, 3) @ (x - p[0:3])) - p[3:6]
        return float(np.linalg.norm(np.maximum(q, 0.0)))
    radial = max(float(np.hypot(x[0] - p[0], x[1] - p[1]) - p[4]), 0.0)
    vertical = max(p[2] - x[2], x[2] - p[3], 0.0)
    return float(np.hypot(radial, vertical))


def clearance(scene: Scene, x: np.ndarray) -> float:
    """Smallest distance from ``x`` to any primitive of the scene (walls included)."""
    return min(distance_to_primitive(int(k), p, np.asarray(x, dtype=np.float64)) for k, p in zip(scene.kinds, scene.params, strict=True))


def look_at(eye, target, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """4×4 camera-to-world pose at ``eye`` looking at ``target``: columns are the camera's x (right),
    y (down) and z (forward) axes in world coordinates, then the position."""
    eye = np.asarray(eye, dtype=np.float64)
    forward = np.asarray(target, dtype=np.float64) - eye
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, np.asarray(up, dtype=np.float64))
    norm = np.linalg.norm(right)
    if norm < 1e-9:
        raise UsageError("look_at: viewing direction is parallel to the up vector")
    right /= norm
    down = np.cross(forward, right)
    pose = np.eye(4)
    pose[:3, 0], pose[:3, 1], pose[:3, 2], pose[:3, 3] = right, down, forward, eye
    return pose
