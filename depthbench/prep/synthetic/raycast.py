"""Built-in numba ray caster: exact camera-z depth and Lambertian-shaded RGB of a packed Scene.

Pixel convention. Pixel (u, v) (column, row) covers the square [u, u+1)×[v, v+1) in continuous
image coordinates whose origin is the top-left image corner; its one ray goes through the pixel
centre (u + 0.5, v + 0.5). The :class:`~depthbench.types.Intrinsics` taken and returned by depthbench
use the OpenCV convention where the centre of pixel u sits at the integer coordinate u (the
convention of ``Intrinsics.scaled``), so with intrinsics (fx, fy, cx, cy) the camera-frame ray of
pixel (u, v) is ``d = ((u − cx)/fx, (v − cy)/fy, 1)``; a principal point at the image centre is
``cx = W/2 − 0.5``, ``cy = H/2 − 0.5``.

Depth. ``d`` has unit camera-z, so the ray parameter t of the nearest hit of ``o + t·R d`` *is* the
camera-z depth of the hit (camera coordinates of the hit are ``t·d``). Everything is float64 and
``fastmath=False``; the result is rounded once to float32. Pixels whose ray hits nothing get depth 0
and black RGB (a closed room never has such pixels).

Shading. albedo · (ambient + Σ_lights rgb_l · max(0, n·l̂) / (1 + (dist/falloff)²) · visible_l),
clipped to [0, 1], gamma 1/2.2, rounded to uint8. ``visible_l`` is a hard-shadow test (a shadow ray
from the hit towards the light) when ``scene.shadows`` is set.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from depthbench.errors import UsageError
from depthbench.prep.synthetic.geometry import BOX, CHECKER, NOISE, PLANE, SPHERE, STRIPES, Scene
from depthbench.types import Intrinsics

_EPS_T = 1e-9  # smallest accepted hit parameter (metres along a unit-z ray)
_SHADOW_OFFSET = 1e-6  # start shadow rays this far off the surface, along the facing normal
_LUT_SIZE = 4096
# Gamma 1/2.2 encoding of linear [0, 1] intensities, tabulated (pow per channel dominated shading).
_GAMMA_LUT = np.round(np.linspace(0.0, 1.0, _LUT_SIZE) ** (1.0 / 2.2) * 255.0).astype(np.uint8)


@numba.njit(cache=True, fastmath=False, inline="always")
def _intersect(kind, params, row, ox, oy, oz, dx, dy, dz):
    """Nearest hit t > _EPS_T of the ray with one primitive: (t, world normal, local point, local
    normal); t = inf when missed. The normal is the outward geometric normal."""
    inf = np.inf
    if kind == PLANE:
        denom = params[row, 0] * dx + params[row, 1] * dy + params[row, 2] * dz
        if denom == 0.0:
            return inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        t = (params[row, 3] - (params[row, 0] * ox + params[row, 1] * oy + params[row, 2] * oz)) / denom
        if t <= _EPS_T:
            return inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        hx, hy, hz = ox + t * dx, oy + t * dy, oz + t * dz
        return t, params[row, 0], params[row, 1], params[row, 2], hx, hy, hz, params[row, 0], params[row, 1], params[row, 2]
    if kind == SPHERE:
        qx, qy, qz = ox - params[row, 0], oy - params[row, 1], oz - params[row, 2]
        a = dx * dx + dy * dy + dz * dz
        b = qx * dx + qy * dy + qz * dz
        c = qx * qx + qy * qy + qz * qz - params[row, 3] * params[row, 3]
        disc = b * b - a * c
        if disc < 0.0:
            return inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        sq = math.sqrt(disc)
        # Numerically stable roots: t1 = c / (−b + sq) equals (−b − sq)/a without cancellation.
        if b < 0.0:
            t1 = c / (-b + sq)
            t2 = (-b + sq) / a
        else:
            t1 = (-b - sq) / a
            t2 = c / (-b - sq) if (-b - sq) != 0.0 else inf
        lo, hi = min(t1, t2), max(t1, t2)
        t = lo if lo > _EPS_T else hi
        if not t > _EPS_T:
            return inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        lx, ly, lz = qx + t * dx, qy + t * dy, qz + t * dz
        r = params[row, 3]
        return t, lx / r, ly / r, lz / r, lx, ly, lz, lx / r, ly / r, lz / r
    if kind == BOX:
        rx, ry, rz = ox - params[row, 0], oy - params[row, 1], oz - params[row, 2]
        tnear, tfar = -inf, inf
        near_axis, far_axis = -1, -1
        for i in range(3):
            r0, r1, r2 = params[row, 6 + 3 * i], params[row, 7 + 3 * i], params[row, 8 + 3 * i]
            lo_ = r0 * rx + r1 * ry + r2 * rz
            ld = r0 * dx + r1 * dy + r2 * dz
            h = params[row, 3 + i]
            if ld == 0.0:
                if lo_ < -h or lo_ > h:
                    return inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
                continue
            ta = (-h - lo_) / ld
            tb = (h - lo_) / ld
            if ta > tb:
                ta, tb = tb, ta
            if ta > tnear:
                tnear, near_axis = ta, i
            if tb < tfar:
                tfar, far_axis = tb, i
        if tnear > tfar or tfar <= _EPS_T:
            return inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
        if tnear > _EPS_T:
            t, axis = tnear, near_axis
        else:
            t, axis = tfar, far_axis
        lx = params[row, 6] * rx + params[row, 7] * ry + params[row, 8] * rz + t * (params[row, 6] * dx + params[row, 7] * dy + params[row, 8] * dz)
        ly = params[row, 9] * rx + params[row, 10] * ry + params[row, 11] * rz + t * (params[row, 9] * dx + params[row, 10] * dy + params[row, 11] * dz)
        lz = params[row, 12] * rx + params[row, 13] * ry + params[row, 14] * rz + t * (params[row, 12] * dx + params[row, 13] * dy + params[row, 14] * dz)
        local = (lx, ly, lz)
        sign = 1.0 if local[axis] > 0.0 else -1.0
        nlx = sign if axis == 0 else 0.0
        nly = sign if axis == 1 else 0.0
        nlz = sign if axis == 2 else 0.0
        wx = sign * params[row, 6 + 3 * axis]
        wy = sign * params[row, 7 + 3 * axis]
        wz = sign * params[row, 8 + 3 * axis]
        return t, wx, wy, wz, lx, ly, lz, nlx, nly, nlz
    # CYLINDER: vertical axis through (p0, p1), z in [p2, p3], radius p4.
    qx, qy = ox - params[row, 0], oy - params[row, 1]
    r = params[row, 4]
    best = inf
    nx, ny, nz = 0.0, 0.0, 0.0
    a = dx * dx + dy * dy
    if a > 0.0:
        b = qx * dx + qy * dy
        c = qx * qx + qy * qy - r * r
        disc = b * b - a * c
        if disc >= 0.0:
            sq = math.sqrt(disc)
            for t in ((-b - sq) / a, (-b + sq) / a):
                if t > _EPS_T and t < best:
                    z = oz + t * dz
                    if z >= params[row, 2] and z <= params[row, 3]:
                        best = t
                        nx, ny, nz = (qx + t * dx) / r, (qy + t * dy) / r, 0.0
    if dz != 0.0:
        for cap in range(2):
            zc = params[row, 2] if cap == 0 else params[row, 3]
            t = (zc - oz) / dz
            if t > _EPS_T and t < best:
                hx, hy = qx + t * dx, qy + t * dy
                if hx * hx + hy * hy <= r * r:
                    best = t
                    nx, ny, nz = 0.0, 0.0, (-1.0 if cap == 0 else 1.0)
    if best == inf:
        return inf, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0
    lx, ly, lz = qx + best * dx, qy + best * dy, oz + best * dz - params[row, 2]
    return best, nx, ny, nz, lx, ly, lz, nx, ny, nz


@numba.njit(cache=True, fastmath=False, inline="always")
def _bound_missed(bounds, row, ox, oy, oz, dx, dy, dz, t_max):
    """True when the ray cannot hit the bounding sphere of ``row`` before t_max (early rejection)."""
    qx, qy, qz = ox - bounds[row, 0], oy - bounds[row, 1], oz - bounds[row, 2]
    a = dx * dx + dy * dy + dz * dz
    b = qx * dx + qy * dy + qz * dz
    c = qx * qx + qy * qy + qz * qz - bounds[row, 3] * bounds[row, 3]
    disc = b * b - a * c
    if disc < 0.0:
        return True
    sq = math.sqrt(disc)
    return (-b + sq) / a <= _EPS_T or (-b - sq) / a > t_max


@numba.njit(cache=True, fastmath=False)
def _nearest_hit(kinds, params, bounds, rects, u, v, ox, oy, oz, dx, dy, dz):
    """Nearest hit over all primitives: (t, primitive index or −1, normal, local point, local normal).
    Primitives whose screen rectangle ``rects[i] = (u0, u1, v0, v1)`` excludes pixel (u, v) are skipped."""
    best_t = np.inf
    best_i = -1
    nx = ny = nz = lx = ly = lz = mx = my = mz = 0.0
    for i in range(kinds.shape[0]):
        if u < rects[i, 0] or u > rects[i, 1] or v < rects[i, 2] or v > rects[i, 3]:
            continue
        if bounds[i, 3] > 0.0 and _bound_missed(bounds, i, ox, oy, oz, dx, dy, dz, best_t):
            continue
        t, a0, a1, a2, b0, b1, b2, c0, c1, c2 = _intersect(kinds[i], params, i, ox, oy, oz, dx, dy, dz)
        if t < best_t:
            best_t, best_i = t, i
            nx, ny, nz, lx, ly, lz, mx, my, mz = a0, a1, a2, b0, b1, b2, c0, c1, c2
    return best_t, best_i, nx, ny, nz, lx, ly, lz, mx, my, mz


@numba.njit(cache=True, fastmath=False)
def _occluded(kinds, params, light_bounds, occluders, ox, oy, oz, dx, dy, dz):
    """True when an occluder is hit with 0 < t < 1 along o + t·d, o = the light, d = point − light.
    ``light_bounds[i]`` = (o − bound centre, |o − centre|² − r²) is precomputed once per light and
    frame. Room-shell planes are not occluders: a segment between two points inside a convex room
    cannot cross them."""
    a = dx * dx + dy * dy + dz * dz
    for i in range(kinds.shape[0]):
        if not occluders[i]:
            continue
        if light_bounds[i, 4] > 0.0:
            b = light_bounds[i, 0] * dx + light_bounds[i, 1] * dy + light_bounds[i, 2] * dz
            disc = b * b - a * light_bounds[i, 3]
            if disc < 0.0:
                continue
            sq = math.sqrt(disc)
            if (-b + sq) / a <= _EPS_T or (-b - sq) / a >= 1.0:
                continue
        t = _intersect(kinds[i], params, i, ox, oy, oz, dx, dy, dz)[0]
        if t < 1.0:
            return True
    return False


@numba.njit(cache=True, fastmath=False)
def _lattice(i, j, k):
    """Deterministic pseudo-random value in [0, 1) at an integer lattice point (integer hash)."""
    h = (i * 73856093) ^ (j * 19349663) ^ (k * 83492791)
    h = (h ^ (h >> 13)) * 1274126177
    h = h ^ (h >> 16)
    return (h & 0xFFFFFF) / 16777216.0


@numba.njit(cache=True, fastmath=False)
def _value_noise(x, y, z):
    """Trilinear value noise with smoothstep weights, in [0, 1)."""
    fx0, fy0, fz0 = math.floor(x), math.floor(y), math.floor(z)
    ix, iy, iz = np.int64(fx0), np.int64(fy0), np.int64(fz0)
    fx, fy, fz = x - fx0, y - fy0, z - fz0
    ux, uy, uz = fx * fx * (3 - 2 * fx), fy * fy * (3 - 2 * fy), fz * fz * (3 - 2 * fz)
    acc = 0.0
    for a in range(2):
        wa = ux if a == 1 else 1.0 - ux
        for b in range(2):
            wb = uy if b == 1 else 1.0 - uy
            for c in range(2):
                wc = uz if c == 1 else 1.0 - uz
                acc += wa * wb * wc * _lattice(ix + a, iy + b, iz + c)
    return acc


@numba.njit(cache=True, fastmath=False)
def _pattern_weight(m, lx, ly, lz, mx, my, mz):
    """Weight of colour b at a local surface point. The point is first moved half a cell into the
    surface so that faces lying exactly on a cell boundary get one consistent cell."""
    pattern = int(m[6])
    s = m[7]
    x, y, z = (lx - 0.5 * s * mx) / s, (ly - 0.5 * s * my) / s, (lz - 0.5 * s * mz) / s
    if pattern == CHECKER:
        return float((int(math.floor(x)) + int(math.floor(y)) + int(math.floor(z))) & 1)
    if pattern == STRIPES:
        return float(int(math.floor(x + y)) & 1)
    if pattern == NOISE:
        return 0.65 * _value_noise(x, y, z) + 0.35 * _value_noise(3.1 * x, 3.1 * y, 3.1 * z)
    return 0.0


@numba.njit(parallel=True, cache=True, fastmath=False)
def _render_kernel(kinds, params, bounds, rects, light_bounds, occluders, materials, lights, ambient, shadows, rot, eye, fx, fy, cx, cy, gamma_lut, rgb, depth):
    height, width = depth.shape
    for v in numba.prange(height):
        for u in range(width):
            xc = (u - cx) / fx
            yc = (v - cy) / fy
            dx = rot[0, 0] * xc + rot[0, 1] * yc + rot[0, 2]
            dy = rot[1, 0] * xc + rot[1, 1] * yc + rot[1, 2]
            dz = rot[2, 0] * xc + rot[2, 1] * yc + rot[2, 2]
            t, i, nx, ny, nz, lx, ly, lz, mx, my, mz = _nearest_hit(kinds, params, bounds, rects, u, v, eye[0], eye[1], eye[2], dx, dy, dz)
            if i < 0:
                depth[v, u] = 0.0
                rgb[v, u, 0] = rgb[v, u, 1] = rgb[v, u, 2] = 0
                continue
            depth[v, u] = t
            if nx * dx + ny * dy + nz * dz > 0.0:  # shade the side the ray sees
                nx, ny, nz = -nx, -ny, -nz
            px, py, pz = eye[0] + t * dx, eye[1] + t * dy, eye[2] + t * dz
            m = materials[i]
            w = _pattern_weight(m, lx, ly, lz, mx, my, mz)
            light_r = light_g = light_b = ambient
            for k in range(lights.shape[0]):
                vx, vy, vz = lights[k, 0] - px, lights[k, 1] - py, lights[k, 2] - pz
                dist = math.sqrt(vx * vx + vy * vy + vz * vz)
                cos = (nx * vx + ny * vy + nz * vz) / dist
                if cos <= 0.0:
                    continue
                if shadows:
                    sx = px + _SHADOW_OFFSET * nx
                    sy = py + _SHADOW_OFFSET * ny
                    sz = pz + _SHADOW_OFFSET * nz
                    lx0, ly0, lz0 = lights[k, 0], lights[k, 1], lights[k, 2]
                    if _occluded(kinds, params, light_bounds[k], occluders, lx0, ly0, lz0, sx - lx0, sy - ly0, sz - lz0):
                        continue
                f = lights[k, 6]
                gain = cos / (1.0 + (dist / f) * (dist / f))
                light_r += gain * lights[k, 3]
                light_g += gain * lights[k, 4]
                light_b += gain * lights[k, 5]
            for c in range(3):
                albedo = (1.0 - w) * m[c] + w * m[3 + c]
                light = light_r if c == 0 else (light_g if c == 1 else light_b)
                value = min(max(albedo * light, 0.0), 1.0)
                rgb[v, u, c] = gamma_lut[int(value * (_LUT_SIZE - 1) + 0.5)]


@numba.njit(cache=True, fastmath=False)
def _cast_one(kinds, params, bounds, rects, ox, oy, oz, dx, dy, dz):
    result = _nearest_hit(kinds, params, bounds, rects, 0, 0, ox, oy, oz, dx, dy, dz)
    return result[0], result[1]


def cast_ray(scene: Scene, origin, direction) -> tuple[float, int]:
    """Nearest hit of one world ray: (t in units of ``direction``, primitive row or −1; t = inf on a miss)."""
    o = np.asarray(origin, dtype=np.float64)
    d = np.asarray(direction, dtype=np.float64)
    everywhere = np.zeros((len(scene.kinds), 4), dtype=np.int64)
    t, i = _cast_one(scene.kinds, scene.params, scene.bounds, everywhere, o[0], o[1], o[2], d[0], d[1], d[2])
    return float(t), int(i)


def occluders(scene: Scene) -> np.ndarray:
    """Primitives that can cast shadows: all but the planes of the room shell (see ``_occluded``)."""
    mask = np.ones(len(scene.kinds), dtype=np.bool_)
    if scene.room_min is not None:
        mask[scene.kinds == PLANE] = False
    return mask


def screen_rects(scene: Scene, pose_c2w: np.ndarray, intrinsics: Intrinsics, height: int, width: int) -> np.ndarray:
    """Conservative pixel rectangles (u0, u1, v0, v1), inclusive, that contain each primitive's image.

    The bounding sphere's camera-frame cube [c ± r]³ projects inside the hull of its 8 projected
    corners (perspective maps a convex polytope in front of the camera to the convex hull of its
    projected vertices); 1 px margin. Planes and spheres reaching the camera plane get the image,
    spheres entirely behind the camera an empty rectangle."""
    full = np.array([0, width - 1, 0, height - 1], dtype=np.int64)
    rects = np.tile(full, (len(scene.kinds), 1))
    rot, eye = pose_c2w[:3, :3], pose_c2w[:3, 3]
    for i, (x, y, z, r) in enumerate(scene.bounds):
        if r <= 0:
            continue
        cx_, cy_, cz_ = rot.T @ (np.array([x, y, z]) - eye)
        if cz_ + r <= 0.0:  # entirely behind the camera: no pixel can see it
            rects[i] = [1, 0, 1, 0]
            continue
        if cz_ - r <= 1e-3:
            continue
        us = [intrinsics.fx * (cx_ + sx * r) / (cz_ + sz * r) + intrinsics.cx for sx in (-1, 1) for sz in (-1, 1)]
        vs = [intrinsics.fy * (cy_ + sy * r) / (cz_ + sz * r) + intrinsics.cy for sy in (-1, 1) for sz in (-1, 1)]
        rects[i] = [np.floor(min(us)) - 1, np.ceil(max(us)) + 1, np.floor(min(vs)) - 1, np.ceil(max(vs)) + 1]
    return rects


def light_bounds(scene: Scene) -> np.ndarray:
    """Per light and primitive: (light − bound centre (3), |light − centre|² − r², r) for shadow rays."""
    out = np.zeros((len(scene.lights), len(scene.kinds), 5))
    for k, light in enumerate(scene.lights):
        q = light[None, :3] - scene.bounds[:, :3]
        out[k, :, :3] = q
        out[k, :, 3] = (q * q).sum(axis=1) - scene.bounds[:, 3] ** 2
        out[k, :, 4] = scene.bounds[:, 3]
    return out


def check_pose(pose_c2w: np.ndarray, name: str = "pose_c2w") -> np.ndarray:
    """Validate a 4×4 rigid camera-to-world matrix (orthonormal rotation, det +1)."""
    pose = np.asarray(pose_c2w, dtype=np.float64)
    if pose.shape != (4, 4) or not np.all(np.isfinite(pose)):
        raise UsageError(f"{name}: expected a finite 4×4 camera-to-world matrix, got shape {pose.shape}")
    rot = pose[:3, :3]
    if not np.allclose(rot.T @ rot, np.eye(3), atol=1e-6) or np.linalg.det(rot) < 0:
        raise UsageError(f"{name}: the 3×3 block must be a rotation (orthonormal, det +1)")
    return pose


def render(scene: Scene, pose_c2w: np.ndarray, intrinsics: Intrinsics, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Render ``scene`` from camera pose ``pose_c2w`` (4×4 camera-to-world, x right, y down, z forward).

    Returns (rgb uint8 H×W×3, depth float32 H×W camera-z metres; 0 where a ray hits nothing). The ray
    of pixel (u, v) goes through its centre: d = ((u − cx)/fx, (v − cy)/fy, 1) in the camera frame
    (see the module docstring for the pixel convention)."""
    if height <= 0 or width <= 0:
        raise UsageError(f"render: height and width must be positive, got {height}×{width}")
    if not (intrinsics.fx > 0 and intrinsics.fy > 0):
        raise UsageError(f"render: intrinsics fx, fy must be > 0, got {intrinsics}")
    pose = check_pose(pose_c2w)
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    depth64 = np.empty((height, width), dtype=np.float64)
    _render_kernel(
        scene.kinds, scene.params, scene.bounds, screen_rects(scene, pose, intrinsics, height, width),
        light_bounds(scene), occluders(scene), scene.materials, scene.lights, float(scene.ambient), bool(scene.shadows),
        np.ascontiguousarray(pose[:3, :3]), np.ascontiguousarray(pose[:3, 3]),
        float(intrinsics.fx), float(intrinsics.fy), float(intrinsics.cx), float(intrinsics.cy), _GAMMA_LUT, rgb, depth64,
    )
    return rgb, depth64.astype(np.float32)


def default_intrinsics(height: int, width: int, fx_over_width: float = 0.8) -> Intrinsics:
    """Square pixels, principal point at the image centre (cx = W/2 − 0.5 in the depthbench pixel
    convention), horizontal field of view 2·atan(1/(2·0.8)) ≈ 64° by default."""
    f = fx_over_width * width
    return Intrinsics(fx=f, fy=f, cx=width / 2 - 0.5, cy=height / 2 - 0.5)
