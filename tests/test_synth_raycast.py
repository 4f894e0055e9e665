"""Exactness of the built-in ray caster against analytic depth computed independently in numpy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from depthbench.errors import UsageError
from depthbench.prep.synthetic import (
    SceneBuilder,
    look_at,
    make_room_scene,
    raycast,
    render,
    sample_camera_poses,
)
from depthbench.prep.synthetic.geometry import yaw_rotation
from depthbench.types import Intrinsics

K = Intrinsics(fx=50.0, fy=55.0, cx=19.5, cy=14.5)
H, W = 30, 40
GREY = SceneBuilder.material((0.5, 0.5, 0.5))


def camera_rays(k: Intrinsics, h: int, w: int) -> np.ndarray:
    """Camera-frame rays with unit z through pixel centres (OpenCV convention: centre at integer u)."""
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    return np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], axis=-1)


def rel_err(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.abs(a.astype(np.float64) - b) / np.abs(b)


@settings(max_examples=25, deadline=None)
@given(
    yaw=st.floats(-np.pi, np.pi), pitch=st.floats(-0.5, 0.5), dist=st.floats(0.5, 8.0),
    tilt=st.floats(-0.6, 0.6), ex=st.floats(-2, 2), ey=st.floats(-2, 2), ez=st.floats(-2, 2),
)
def test_plane_depth_is_analytic(yaw, pitch, dist, tilt, ex, ey, ez):
    eye = np.array([ex, ey, ez])
    forward = np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)])
    pose = look_at(eye, eye + forward)
    # Plane through the point dist ahead, normal tilted away from the viewing direction.
    normal_cam = np.array([np.sin(tilt), 0.3 * np.sin(tilt), -np.cos(tilt)])
    normal_cam /= np.linalg.norm(normal_cam)
    normal = pose[:3, :3] @ normal_cam
    point = eye + dist * forward
    b = SceneBuilder()
    b.add_plane(normal, float(normal @ point), GREY)
    b.add_light(eye, (1.0, 1.0, 1.0))
    _, depth = render(b.build(), pose, K, H, W)
    # Oracle in the camera frame: n_c · (z r) = n_c · p_c  →  z = n_c·p_c / n_c·r.
    rays = camera_rays(K, H, W)
    p_cam = pose[:3, :3].T @ (point - eye)
    expected = (normal_cam @ p_cam) / (rays @ normal_cam)
    assert np.all(expected > 0)
    assert rel_err(depth, expected).max() < 1e-5


@pytest.mark.parametrize("radius,distance", [(0.5, 2.0), (1.0, 5.0), (0.2, 0.9)])
def test_sphere_depth_is_analytic_with_plane_behind(radius, distance):
    eye = np.array([0.3, -1.0, 1.2])
    target = np.array([1.5, 2.0, 0.7])
    pose = look_at(eye, target)
    forward = pose[:3, 2]
    centre = eye + distance * forward + 0.1 * radius * pose[:3, 0]
    b = SceneBuilder()
    b.add_sphere(centre, radius, GREY)
    wall_point = eye + (distance + 3 * radius) * forward
    b.add_plane(-forward, float(-forward @ wall_point), GREY)
    _, depth = render(b.build(), pose, K, H, W)
    rays = camera_rays(K, H, W)
    c = pose[:3, :3].T @ (centre - eye)
    # |z r − c|² = R²  →  (r·r) z² − 2 (r·c) z + c·c − R² = 0, nearest root.
    a = (rays * rays).sum(-1)
    bb = rays @ c
    disc = bb * bb - a * (c @ c - radius * radius)
    hit = disc > 1e-6 * a * radius * radius  # away from the silhouette, where both agree robustly
    miss = disc < -1e-6 * a * radius * radius
    z_sphere = (bb - np.sqrt(np.where(hit, disc, 0))) / a
    z_wall = np.full((H, W), distance + 3 * radius)  # plane at camera z = const
    assert hit.sum() > 20 and miss.sum() > 20
    assert rel_err(depth[hit], z_sphere[hit]).max() < 1e-5
    assert rel_err(depth[miss], z_wall[miss]).max() < 1e-5


def test_box_and_cylinder_faces_are_analytic():
    # A camera looking straight down (−z) at a box top at z = 1 and a cylinder cap at z = 0.6; floor z = 0.
    eye = np.array([0.0, 0.0, 3.0])
    pose = look_at(eye, np.array([0.0, 0.0, 0.0]), up=(0.0, 1.0, 0.0))
    b = SceneBuilder()
    b.add_plane((0, 0, 1), 0.0, GREY)
    b.add_box([-0.8, 0.0, 0.5], [0.5, 0.6, 0.5], GREY, yaw_rotation(0.4))
    b.add_cylinder(0.9, 0.2, 0.0, 0.6, 0.45, GREY)
    k = Intrinsics(K.fx, K.fy, 39.5, 29.5)
    _, depth = render(b.build(), pose, k, 60, 80)
    rays = camera_rays(k, 60, 80)
    world = (rays * 1.0) @ pose[:3, :3].T  # direction per pixel; camera z = −world z here
    # Intersections with z = 1, z = 0.6, z = 0 at camera depths 2, 2.4, 3.
    pts1 = eye + 2.0 * world
    q = (pts1[..., :2] - [-0.8, 0.0]) @ yaw_rotation(0.4)[:2, :2].T
    on_box = (np.abs(q[..., 0]) < 0.5 - 1e-3) & (np.abs(q[..., 1]) < 0.6 - 1e-3)
    pts2 = eye + 2.4 * world
    on_cyl = np.hypot(pts2[..., 0] - 0.9, pts2[..., 1] - 0.2) < 0.45 - 1e-3
    assert on_box.sum() > 50 and on_cyl.sum() > 50
    assert np.abs(depth[on_box] - 2.0).max() < 2e-5
    assert np.abs(depth[on_cyl] - 2.4).max() < 2.4e-5


def test_screen_culling_changes_nothing(monkeypatch):
    scene = make_room_scene(11, "office")
    k = Intrinsics(60.0, 60.0, 31.5, 23.5)
    poses = sample_camera_poses(scene, 3, seed=2)
    culled = [render(scene, p, k, 48, 64) for p in poses]
    full = lambda s, pose, intr, h, w: np.tile(np.array([0, w - 1, 0, h - 1]), (len(s.kinds), 1))
    monkeypatch.setattr(raycast, "screen_rects", full)
    for pose, (rgb, depth) in zip(poses, culled, strict=True):
        rgb_full, depth_full = render(scene, pose, k, 48, 64)
        np.testing.assert_array_equal(depth, depth_full)
        np.testing.assert_array_equal(rgb, rgb_full)


def test_miss_gives_zero_depth_and_bad_pose_is_rejected():
    b = SceneBuilder()
    b.add_sphere([0, 0, 5], 1.0, GREY)
    pose = np.eye(4)
    rgb, depth = render(b.build(), pose, Intrinsics(50.0, 55.0, 20.0, 15.0), H, W)
    assert depth[0, 0] == 0 and rgb[0, 0].sum() == 0 and depth[H // 2, W // 2] == pytest.approx(4.0, rel=1e-6)
    bad = np.eye(4)
    bad[0, 0] = 2.0
    with pytest.raises(UsageError, match="rotation"):
        render(b.build(), bad, K, H, W)


def test_cast_ray_returns_nearest_primitive_and_parameter():
    from depthbench.prep.synthetic import cast_ray

    b = SceneBuilder()
    b.add_sphere([3.0, 0.0, 0.0], 0.5, GREY)
    b.add_box([6.0, 0.0, 0.0], [0.5, 0.8, 0.5], GREY)
    scene = b.build()
    t, row = cast_ray(scene, [0, 0, 0], [2.0, 0, 0])  # t in units of the (unnormalised) direction
    assert row == 0 and t == pytest.approx(2.5 / 2.0, rel=1e-12)
    t, row = cast_ray(scene, [0, 0.7, 0], [1.0, 0, 0])  # passes above the sphere, hits the box
    assert row == 1 and t == pytest.approx(5.5, rel=1e-12)
    assert cast_ray(scene, [0, 0, 0], [-1.0, 0, 0]) == (np.inf, -1)
