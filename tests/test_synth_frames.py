"""synthetic-rooms frames: multi-view consistency, determinism, value ranges, split disjointness."""

from __future__ import annotations

import numpy as np
import pytest

from depthbench.errors import UsageError
from depthbench.prep.synthetic import (
    look_at,
    make_room_scene,
    render,
    sample_camera_poses,
    synthetic_rooms_frames,
)
from depthbench.prep.synthetic.frames import scene_seed
from depthbench.types import Intrinsics

KINDS = ["room", "living_room", "kitchen", "office"]


def back_project(depth: np.ndarray, k: Intrinsics, pose: np.ndarray) -> np.ndarray:
    v, u = np.mgrid[0 : depth.shape[0], 0 : depth.shape[1]].astype(np.float64)
    cam = np.stack([(u - k.cx) / k.fx * depth, (v - k.cy) / k.fy * depth, depth.astype(np.float64)], -1)
    return cam @ pose[:3, :3].T + pose[:3, 3]


@pytest.mark.parametrize("kind", KINDS)
def test_multi_view_consistency(kind):
    """Back-project A, reproject into B; B's depth at exactly that ray (a 1×1 render whose principal
    point puts the pixel centre on the projection) equals the point's z in B where visible and is never
    larger (B cannot see through a surface A sees)."""
    scene = make_room_scene(7, kind)
    k = Intrinsics(fx=64.0, fy=64.0, cx=39.5, cy=29.5)
    (pose_a,) = sample_camera_poses(scene, 1, seed=3)
    # B: moved 0.35 m (inside the 0.6 m clearance) and turned, still overlapping A's view.
    eye_b = pose_a[:3, 3] + np.array([0.3, -0.15, 0.1])
    pose_b = look_at(eye_b, pose_a[:3, 3] + 2.5 * pose_a[:3, 2] + np.array([0.2, 0.1, -0.1]))
    _, depth_a = render(scene, pose_a, k, 60, 80)
    points = back_project(depth_a, k, pose_a).reshape(-1, 3)
    rng = np.random.default_rng(0)
    agree = 0
    checked = 0
    for idx in rng.choice(points.shape[0], 300, replace=False):
        cam_b = pose_b[:3, :3].T @ (points[idx] - pose_b[:3, 3])
        if cam_b[2] <= 0.05:
            continue
        one_px = Intrinsics(fx=64.0, fy=64.0, cx=-64.0 * cam_b[0] / cam_b[2], cy=-64.0 * cam_b[1] / cam_b[2])
        _, depth_b = render(scene, pose_b, one_px, 1, 1)
        rel = (float(depth_b[0, 0]) - cam_b[2]) / cam_b[2]
        checked += 1
        assert rel < 1e-4, f"B sees farther than a surface seen from A (rel {rel})"
        agree += abs(rel) < 1e-4
    assert checked > 100 and agree > 0.3 * checked


def test_frames_deterministic_and_seed_dependent():
    a = list(synthetic_rooms_frames("test", 10, 48, 64, seed=0))
    b = list(synthetic_rooms_frames("test", 10, 48, 64, seed=0))
    c = list(synthetic_rooms_frames("test", 10, 48, 64, seed=1))
    assert len(a) == 10
    for fa, fb in zip(a, b, strict=True):
        np.testing.assert_array_equal(fa.rgb, fb.rgb)
        np.testing.assert_array_equal(fa.depth, fb.depth)
        np.testing.assert_array_equal(fa.pose, fb.pose)
        assert (fa.scene_id, fa.frame_id) == (fb.scene_id, fb.frame_id)
    assert not np.array_equal(a[0].depth, c[0].depth)
    assert len({f.frame_id for f in a}) == 10


@pytest.mark.parametrize("split", ["train", "test"])
def test_frames_rgb_varied_and_depth_in_range(split):
    frames = list(synthetic_rooms_frames(split, 12, 60, 80, seed=3))
    for f in frames:
        assert f.rgb.dtype == np.uint8 and f.rgb.shape == (60, 80, 3)
        assert f.depth.dtype == np.float32 and f.depth.shape == (60, 80)
        assert np.isfinite(f.depth).all() and f.depth.min() >= 0.4 and f.depth.max() <= 10.0
        assert f.rgb.astype(float).std() > 5.0
        assert len(np.unique(f.rgb.reshape(-1, 3), axis=0)) > 30
        assert f.intrinsics == Intrinsics(64.0, 64.0, 39.5, 29.5)
        np.testing.assert_allclose(f.pose[:3, :3].T @ f.pose[:3, :3], np.eye(3), atol=1e-12)


@pytest.mark.parametrize("kind", KINDS)
def test_every_layout_renders_positive_depth_everywhere(kind):
    for seed in range(3):
        scene = make_room_scene(seed, kind)
        assert len(scene.objects) >= 3
        for pose in sample_camera_poses(scene, 2, seed=seed):
            rgb, depth = render(scene, pose, Intrinsics(64.0, 64.0, 39.5, 29.5), 60, 80)
            assert depth.min() > 0.4 and depth.max() < 10.0 and np.isfinite(rgb.astype(float)).all()


def test_train_and_test_scenes_are_disjoint():
    train = {scene_seed("train", i, 0) for i in range(200)}
    test = {scene_seed("test", i, 0) for i in range(200)}
    assert not train & test and len(train) == len(test) == 200
    ids_train = {f.scene_id for f in synthetic_rooms_frames("train", 24, 24, 32)}
    ids_test = {f.scene_id for f in synthetic_rooms_frames("test", 24, 24, 32)}
    assert not ids_train & ids_test
    geo_train = {make_room_scene(scene_seed("train", i, 0)).params.tobytes() for i in range(5)}
    geo_test = {make_room_scene(scene_seed("test", i, 0)).params.tobytes() for i in range(5)}
    assert not geo_train & geo_test


def test_scene_determinism_and_errors():
    np.testing.assert_array_equal(make_room_scene(5, "kitchen").params, make_room_scene(5, "kitchen").params)
    assert not np.array_equal(make_room_scene(5).params, make_room_scene(6).params)
    with pytest.raises(UsageError, match="kind"):
        make_room_scene(0, "garage")
    with pytest.raises(UsageError, match="split"):
        next(synthetic_rooms_frames("val", 1))
