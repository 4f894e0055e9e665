"""Room layouts for the built-in backend: living room, kitchen, office.

Each layout adds named objects of interest (furniture built from boxes, cylinders and spheres) to a
room shell; placement uses the seeded :class:`~depthbench.prep.synthetic.scenes.FootprintPlanner`,
so a layout is deterministic for the scene's seed. Pieces that do not fit are skipped.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from depthbench.prep.synthetic.geometry import CHECKER, NOISE, SOLID, STRIPES, SceneBuilder, yaw_rotation
from depthbench.prep.synthetic.scenes import FootprintPlanner, add_table, random_material


def _box_object(builder: SceneBuilder, planner: FootprintPlanner, rng: np.random.Generator, name: str,
                half: tuple[float, float, float], against_wall: bool, z0: float = 0.0) -> bool:
    spot = planner.place(float(np.hypot(half[0], half[1])), against_wall=against_wall)
    if spot is None:
        return False
    rows = [builder.add_box([spot[0], spot[1], z0 + half[2]], half, random_material(rng), yaw_rotation(float(rng.uniform(0, np.pi))))]
    builder.add_object(name, rows)
    return True


def _sofa(builder: SceneBuilder, planner: FootprintPlanner, rng: np.random.Generator, name: str) -> None:
    """Seat box, back box and two arm boxes sharing one yaw."""
    hx, hy = rng.uniform(0.7, 1.1), 0.45
    spot = planner.place(float(np.hypot(hx, hy)), against_wall=True)
    if spot is None:
        return
    rot = yaw_rotation(float(rng.uniform(0, 2 * np.pi)))
    cloth = random_material(rng, (SOLID, NOISE))
    centre = np.array([spot[0], spot[1], 0.0])
    axis_x, axis_y = rot[0], rot[1]
    rows = [
        builder.add_box(centre + [0, 0, 0.22], [hx, hy, 0.22], cloth, rot),
        builder.add_box(centre - axis_y * (hy - 0.1) + [0, 0, 0.55], [hx, 0.1, 0.33], cloth, rot),
        builder.add_box(centre + axis_x * (hx - 0.08) + [0, 0, 0.32], [0.08, hy, 0.32], cloth, rot),
        builder.add_box(centre - axis_x * (hx - 0.08) + [0, 0, 0.32], [0.08, hy, 0.32], cloth, rot),
    ]
    builder.add_object(name, rows)


def _plant(builder: SceneBuilder, planner: FootprintPlanner, rng: np.random.Generator, name: str) -> None:
    spot = planner.place(0.3)
    if spot is None:
        return
    h = rng.uniform(0.3, 0.5)
    pot = builder.add_cylinder(spot[0], spot[1], 0.0, h, 0.18, random_material(rng, (SOLID, STRIPES)))
    leaves = builder.add_sphere([spot[0], spot[1], h + 0.25], 0.28, SceneBuilder.material((0.2, 0.55, 0.2), (0.1, 0.35, 0.1), NOISE, 0.08))
    builder.add_object(name, [pot, leaves])


def living_room(builder: SceneBuilder, planner: FootprintPlanner, rng: np.random.Generator, size: np.ndarray) -> None:
    _sofa(builder, planner, rng, "sofa")
    add_table(builder, planner, rng, "coffee_table", top_height=float(rng.uniform(0.35, 0.45)))
    _box_object(builder, planner, rng, "tv_stand", (0.8, 0.22, 0.25), against_wall=True)
    _box_object(builder, planner, rng, "bookshelf", (0.5, 0.18, 0.9), against_wall=True)
    for i in range(int(rng.integers(1, 3))):
        _plant(builder, planner, rng, f"plant_{i}")
    for i in range(int(rng.integers(1, 3))):
        spot = planner.place(0.3)
        if spot is not None:
            r = float(rng.uniform(0.25, 0.35))
            row = builder.add_cylinder(spot[0], spot[1], 0.0, 0.45, r, random_material(rng))
            builder.add_object(f"pouf_{i}", [row])


def kitchen(builder: SceneBuilder, planner: FootprintPlanner, rng: np.random.Generator, size: np.ndarray) -> None:
    # A counter run along the x = 0 wall (axis-aligned, so it fits the room exactly).
    length = float(min(size[1] - 0.4, rng.uniform(1.8, 3.0)))
    y0 = float(rng.uniform(0.1, size[1] - length - 0.1))
    counter = random_material(rng, (SOLID, NOISE))
    rows = [builder.add_box([0.31, y0 + length / 2, 0.45], [0.3, length / 2, 0.45], counter),
            builder.add_box([0.31, y0 + length / 2, 0.92], [0.31, length / 2 + 0.01, 0.02], random_material(rng, (NOISE, CHECKER)))]
    builder.add_object("counter", rows)
    planner.placed.append((0.31, y0 + length / 2, length / 2 + 0.1))
    _box_object(builder, planner, rng, "fridge", (0.35, 0.33, 0.9), against_wall=True)
    add_table(builder, planner, rng, "dining_table", top_height=0.75)
    for i in range(int(rng.integers(2, 5))):
        spot = planner.place(0.22)
        if spot is None:
            continue
        seat = builder.add_cylinder(spot[0], spot[1], 0.45, 0.5, 0.2, random_material(rng, (SOLID,)))
        leg = builder.add_cylinder(spot[0], spot[1], 0.0, 0.45, 0.03, random_material(rng, (SOLID,)))
        builder.add_object(f"stool_{i}", [seat, leg])
    spot = planner.place(0.2)
    if spot is not None:
        builder.add_object("bin", [builder.add_cylinder(spot[0], spot[1], 0.0, 0.6, 0.16, random_material(rng))])


def office(builder: SceneBuilder, planner: FootprintPlanner, rng: np.random.Generator, size: np.ndarray) -> None:
    for i in range(int(rng.integers(1, 3))):
        spot = planner.place(0.85)
        if spot is None:
            continue
        x, y = spot
        top = random_material(rng, (SOLID, STRIPES))
        rows = [builder.add_box([x, y, 0.725], [0.7, 0.35, 0.025], top),
                builder.add_box([x - 0.62, y, 0.35], [0.05, 0.33, 0.35], top),
                builder.add_box([x + 0.62, y, 0.35], [0.05, 0.33, 0.35], top),
                builder.add_box([x, y + 0.15, 0.97], [0.28, 0.02, 0.2], SceneBuilder.material((0.08, 0.08, 0.1))),
                builder.add_box([x, y - 0.1, 0.765], [0.22, 0.08, 0.015], random_material(rng, (SOLID,)))]
        builder.add_object(f"desk_{i}", rows)
        chair = planner.place(0.3)
        if chair is not None:
            cx, cy = chair
            fabric = random_material(rng, (SOLID, NOISE))
            rows = [builder.add_cylinder(cx, cy, 0.0, 0.45, 0.04, SceneBuilder.material((0.15, 0.15, 0.15))),
                    builder.add_box([cx, cy, 0.48], [0.24, 0.24, 0.04], fabric),
                    builder.add_box([cx, cy + 0.22, 0.8], [0.22, 0.03, 0.28], fabric)]
            builder.add_object(f"chair_{i}", rows)
    _box_object(builder, planner, rng, "filing_cabinet", (0.25, 0.3, 0.65), against_wall=True)
    _box_object(builder, planner, rng, "shelf", (0.6, 0.2, 1.0), against_wall=True)
    _plant(builder, planner, rng, "plant")
    spot = planner.place(0.3)
    if spot is not None:
        builder.add_object("globe", [builder.add_cylinder(spot[0], spot[1], 0.0, 0.7, 0.05, random_material(rng, (SOLID,))),
                                     builder.add_sphere([spot[0], spot[1], 0.95], 0.25, random_material(rng, (CHECKER, NOISE)))])


LAYOUTS: dict[str, Callable[[SceneBuilder, FootprintPlanner, np.random.Generator, np.ndarray], None]] = {
    "living_room": living_room,
    "kitchen": kitchen,
    "office": office,
}
