"""Procedural indoor scenes and camera poses for the built-in ray caster.

A room is the box [0, sx]×[0, sy]×[0, sz] (z up) with sx ∈ [3, 8] m, sy ∈ [3, 6] m, sz ∈ [2.4, 3.0] m;
the camera keeps ≥ 0.6 m from the walls, so the farthest visible point is ≤ √(7.4² + 5.4² + 2²) ≈ 9.4 m
away and every camera-z depth stays below 10 m. Furniture (oriented boxes, vertical cylinders,
spheres) is placed by seeded rejection sampling of non-overlapping footprints. Every surface gets a
procedural texture (solid, checker, stripes or value noise) from a seeded palette; several point
lights hang below the ceiling. Layout kinds: ``room`` (generic), ``living_room``, ``kitchen``,
``office`` (see ``layouts.py``).
"""

from __future__ import annotations

import numpy as np

from depthbench.errors import UsageError
from depthbench.prep.synthetic.geometry import (
    CHECKER,
    NOISE,
    SOLID,
    STRIPES,
    Scene,
    SceneBuilder,
    clearance,
    look_at,
    yaw_rotation,
)

ROOM_X_RANGE = (3.0, 8.0)
ROOM_Y_RANGE = (3.0, 6.0)
ROOM_Z_RANGE = (2.4, 3.0)
WALL_MARGIN = 0.6  # camera distance to walls; also the minimum clearance to any surface
CAMERA_Z_RANGE = (1.0, 1.8)


def random_material(rng: np.random.Generator, patterns=(SOLID, CHECKER, STRIPES, NOISE)) -> np.ndarray:
    """A seeded material: two related colours from a random hue palette, a pattern and a cell size."""
    base = rng.uniform(0.25, 0.95, size=3)
    other = np.clip(base * rng.uniform(0.35, 0.8) + rng.uniform(-0.1, 0.1, size=3), 0.05, 1.0)
    pattern = int(rng.choice(patterns))
    return SceneBuilder.material(base, other, pattern, float(rng.uniform(0.08, 0.5)))


class FootprintPlanner:
    """Rejection sampling of non-overlapping circular footprints on the floor (bounded tries)."""

    def __init__(self, size: np.ndarray, rng: np.random.Generator, gap: float = 0.1) -> None:
        self.size, self.rng, self.gap = size, rng, gap
        self.placed: list[tuple[float, float, float]] = []

    def free(self, x: float, y: float, r: float) -> bool:
        return all(np.hypot(x - a, y - b) >= r + c + self.gap for a, b, c in self.placed)

    def place(self, radius: float, against_wall: bool = False, tries: int = 60) -> tuple[float, float] | None:
        sx, sy = float(self.size[0]), float(self.size[1])
        if 2 * radius + 0.1 > min(sx, sy):
            return None
        for _ in range(tries):
            if against_wall:
                side = int(self.rng.integers(4))
                along = self.rng.uniform(radius + 0.05, (sx if side < 2 else sy) - radius - 0.05)
                off = radius + 0.05
                x, y = [(along, off), (along, sy - off), (off, along), (sx - off, along)][side]
            else:
                x = self.rng.uniform(radius + 0.05, sx - radius - 0.05)
                y = self.rng.uniform(radius + 0.05, sy - radius - 0.05)
            if self.free(x, y, radius):
                self.placed.append((x, y, radius))
                return x, y
        return None


def add_generic_furniture(builder: SceneBuilder, planner: FootprintPlanner, rng: np.random.Generator, count: int) -> None:
    """Boxes (cabinets, tables, beds), cylinders (bins, stools, lamps) and balls, each an object."""
    for index in range(count):
        choice = rng.choice(["box", "table", "cylinder", "ball", "lamp"], p=[0.35, 0.2, 0.2, 0.1, 0.15])
        if choice == "box":
            half = np.array([rng.uniform(0.2, 0.7), rng.uniform(0.2, 0.5), rng.uniform(0.2, 0.9)])
            spot = planner.place(float(np.hypot(half[0], half[1])), against_wall=bool(rng.random() < 0.5))
            if spot is None:
                continue
            yaw = float(rng.uniform(0, np.pi))
            row = builder.add_box([spot[0], spot[1], half[2]], half, random_material(rng), yaw_rotation(yaw))
            builder.add_object(f"cabinet_{index:02d}", [row])
        elif choice == "table":
            add_table(builder, planner, rng, f"table_{index:02d}")
        elif choice == "cylinder":
            r, h = rng.uniform(0.12, 0.4), rng.uniform(0.3, 1.2)
            spot = planner.place(r)
            if spot is None:
                continue
            row = builder.add_cylinder(spot[0], spot[1], 0.0, h, r, random_material(rng))
            builder.add_object(f"cylinder_{index:02d}", [row])
        elif choice == "ball":
            r = rng.uniform(0.12, 0.35)
            spot = planner.place(r)
            if spot is None:
                continue
            row = builder.add_sphere([spot[0], spot[1], r], r, random_material(rng))
            builder.add_object(f"ball_{index:02d}", [row])
        else:
            spot = planner.place(0.25)
            if spot is None:
                continue
            h = rng.uniform(1.2, 1.7)
            pole = builder.add_cylinder(spot[0], spot[1], 0.0, h, 0.03, random_material(rng, (SOLID,)))
            shade = builder.add_sphere([spot[0], spot[1], h + 0.15], 0.17, random_material(rng, (SOLID, NOISE)))
            builder.add_object(f"lamp_{index:02d}", [pole, shade])


def add_table(builder: SceneBuilder, planner: FootprintPlanner, rng: np.random.Generator, name: str,
              top_height: float | None = None, half_xy: tuple[float, float] | None = None, with_items: bool = True) -> bool:
    """An axis-aligned table: top slab, four cylinder legs, optionally a ball and a box on top."""
    hx, hy = half_xy if half_xy is not None else (rng.uniform(0.35, 0.8), rng.uniform(0.3, 0.5))
    spot = planner.place(float(np.hypot(hx, hy)))
    if spot is None:
        return False
    x, y = spot
    top = top_height if top_height is not None else rng.uniform(0.45, 0.8)
    wood = random_material(rng, (SOLID, STRIPES, NOISE))
    rows = [builder.add_box([x, y, top - 0.025], [hx, hy, 0.025], wood)]
    leg = random_material(rng, (SOLID,))
    for sx in (-1, 1):
        for sy in (-1, 1):
            rows.append(builder.add_cylinder(x + sx * (hx - 0.06), y + sy * (hy - 0.06), 0.0, top - 0.05, 0.03, leg))
    if with_items:
        r = rng.uniform(0.05, 0.12)
        rows.append(builder.add_sphere([x - hx / 2, y, top + r], r, random_material(rng)))
        half = [rng.uniform(0.05, 0.15), rng.uniform(0.05, 0.15), rng.uniform(0.03, 0.12)]
        rows.append(builder.add_box([x + hx / 2, y, top + half[2]], half, random_material(rng)))
    builder.add_object(name, rows)
    return True


def add_room_shell(builder: SceneBuilder, rng: np.random.Generator) -> np.ndarray:
    """Floor, ceiling and walls of a random-size room, plus 2–4 ceiling lights. Returns the size."""
    size = np.array([rng.uniform(*ROOM_X_RANGE), rng.uniform(*ROOM_Y_RANGE), rng.uniform(*ROOM_Z_RANGE)])
    floor = random_material(rng, (CHECKER, STRIPES, NOISE))
    ceiling = SceneBuilder.material(rng.uniform(0.8, 0.95, 3), rng.uniform(0.7, 0.85, 3), NOISE, 0.6)
    walls = [random_material(rng, (SOLID, STRIPES, NOISE)) for _ in range(2)]
    builder.add_room(size, [floor, ceiling, walls[0], walls[0], walls[1], walls[1]])
    for _ in range(int(rng.integers(2, 5))):
        position = [rng.uniform(0.5, size[0] - 0.5), rng.uniform(0.5, size[1] - 0.5), size[2] - 0.25]
        warm = rng.uniform(0.85, 1.0, 3) * np.array([1.0, 0.95, 0.85])
        builder.add_light(position, warm * rng.uniform(0.5, 0.9), falloff=float(rng.uniform(3.0, 5.0)))
    return size


def make_room_scene(seed: int, kind: str = "room", shadows: bool = True) -> Scene:
    """A procedural room, deterministic for (seed, kind). ``kind``: room, living_room, kitchen, office."""
    from depthbench.prep.synthetic.layouts import LAYOUTS

    if kind != "room" and kind not in LAYOUTS:
        raise UsageError(f"make_room_scene: unknown kind {kind!r}; expected one of {['room', *sorted(LAYOUTS)]}")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), sum(map(ord, kind))]))
    builder = SceneBuilder(scene_id=f"{kind}-{int(seed)}", kind=kind)
    size = add_room_shell(builder, rng)
    planner = FootprintPlanner(size, rng)
    if kind == "room":
        add_generic_furniture(builder, planner, rng, int(rng.integers(5, 10)))
    else:
        LAYOUTS[kind](builder, planner, rng, size)
    return builder.build(ambient=float(rng.uniform(0.18, 0.3)), shadows=shadows)


def sample_camera_poses(scene: Scene, n: int, seed: int, min_clearance: float = WALL_MARGIN, max_tries: int = 2000) -> list[np.ndarray]:
    """``n`` camera-to-world poses inside the room looking at furniture, deterministic for ``seed``.

    The eye is uniform in the room shrunk by ``min_clearance`` at height 1.0–1.8 m, keeps
    ``min_clearance`` from every primitive (so with a corner half-angle ≤ 45° every camera-z depth is
    ≥ 0.42 m) and ≥ 1 m from its target, a point near a random object's centre."""
    if scene.room_min is None or scene.room_max is None or not scene.objects:
        raise UsageError(f"sample_camera_poses: scene {scene.scene_id!r} needs a room and at least one object")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x5EED]))
    lo = scene.room_min + min_clearance
    hi = scene.room_max - min_clearance
    poses: list[np.ndarray] = []
    for _ in range(max_tries):
        if len(poses) == n:
            break
        obj = scene.objects[int(rng.integers(len(scene.objects)))]
        target = obj.center + rng.uniform(-0.5, 0.5, 3) * obj.half_extent
        eye = np.array([rng.uniform(lo[0], hi[0]), rng.uniform(lo[1], hi[1]), rng.uniform(*CAMERA_Z_RANGE)])
        if np.linalg.norm(target - eye) < 1.0 or clearance(scene, eye) < min_clearance:
            continue
        poses.append(look_at(eye, target))
    if len(poses) < n:
        raise UsageError(f"sample_camera_poses: found only {len(poses)} of {n} poses in scene {scene.scene_id!r}")
    return poses
