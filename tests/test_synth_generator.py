"""Unreal-1k generator with the built-in backend: fly-around geometry, checks, resume, determinism,
uniform reproducible sampling, and the `generate unreal1k` command writing the prepared format."""

from __future__ import annotations

import json

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from depthbench.cli.cmd_generate import register
from depthbench.errors import DataError, UsageError
from depthbench.prep.synthetic.backends import BuiltinBackend, ObjectOfInterest, SceneBackend
from depthbench.prep.synthetic.generator import (
    GeneratorConfig,
    frame_checks,
    generate_unreal1k,
    plan_all,
    sample_indices,
)
from depthbench.prep.synthetic.raycast import render
from depthbench.types import Intrinsics

SMALL = {"backend": "builtin", "scenes": 3, "objects_per_scene": 3, "frames_per_object": 4, "sample": 12, "height": 48, "width": 64}


def test_builtin_backend_satisfies_protocol():
    backend = BuiltinBackend(4, seed=1)
    assert isinstance(backend, SceneBackend)
    assert backend.list_scenes() == ["living_room-000", "kitchen-001", "office-002", "living_room-003"]
    backend.load_scene("kitchen-001")
    objects = backend.list_objects()
    assert any(o.name == "counter" for o in objects) and len(objects) >= 4
    with pytest.raises(UsageError):
        backend.load_scene("garage-009")


@pytest.mark.parametrize("total,n", [(40, 10), (7, 7), (5, 9)])
def test_sample_is_reproducible_distinct_and_uniform(total, n):
    a = sample_indices(total, n, seed=3)
    np.testing.assert_array_equal(a, sample_indices(total, n, seed=3))
    assert len(a) == min(n, total) and len(set(a.tolist())) == len(a) and np.all(np.diff(a) > 0)
    # Uniformity: over 3,000 seeds every index is picked with probability n/total (binomial bound).
    counts = np.zeros(total)
    seeds = 3000
    for s in range(seeds):
        counts[sample_indices(total, n, seed=s)] += 1
    p = min(n, total) / total
    sd = np.sqrt(seeds * p * (1 - p)) + 1e-9
    assert np.all(np.abs(counts - seeds * p) <= 5 * sd)


def test_frame_checks_reject_near_far_and_occluded():
    k = Intrinsics(32.0, 32.0, 15.5, 11.5)
    pose = np.eye(4)
    obj = ObjectOfInterest("box", (-0.2, -0.2, 2.8), (0.2, 0.2, 3.2))  # centre 3 m ahead
    depth = np.full((24, 32), 2.9, dtype=np.float32)
    assert frame_checks(depth, pose, k, obj)
    assert not frame_checks(np.where(np.arange(32) == 0, 0.3, depth).astype(np.float32), pose, k, obj)  # too near
    assert not frame_checks(np.where(np.arange(32) == 0, 10.5, depth).astype(np.float32), pose, k, obj)  # too far
    occluded = depth.copy()
    occluded[10:14, 14:18] = 1.5  # something 1.5 m ahead covers the object's centre
    assert not frame_checks(occluded, pose, k, obj)


def test_fly_around_orbits_and_looks_at_objects(tmp_path):
    backend = BuiltinBackend(3, seed=2)
    config = GeneratorConfig(**SMALL, seed=2)
    frames = plan_all(backend, tmp_path, config, progress=False)
    assert len(frames) >= 0.6 * 3 * 3 * 4
    for f in frames:
        backend.load_scene(f.scene_id)
        obj = next(o for o in backend.list_objects() if o.name == f.object_name)
        pose = np.asarray(f.pose).reshape(4, 4)
        to_obj = obj.center - pose[:3, 3]
        # Looks at the object (target within ±0.3 half-extent of its centre) from 0.3–3.5 m away.
        cos = to_obj @ pose[:3, 2] / np.linalg.norm(to_obj)
        assert cos > np.cos(np.radians(35)) and 0.3 < np.hypot(*to_obj[:2]) < 3.5
        _, depth = render(backend.scene, pose, config.intrinsics(), config.height, config.width)
        assert frame_checks(depth, pose, config.intrinsics(), obj)


def test_plan_is_deterministic_and_resumes_per_scene(tmp_path):
    config = GeneratorConfig(**SMALL, seed=4)
    plan_all(BuiltinBackend(3, seed=4), tmp_path / "a", config, progress=False)
    plan_all(BuiltinBackend(3, seed=4), tmp_path / "b", config, progress=False)
    files = sorted(p.name for p in (tmp_path / "a" / "plan").glob("*.json"))
    assert len(files) == 4  # config + 3 scenes
    for name in files:
        assert (tmp_path / "a" / "plan" / name).read_text() == (tmp_path / "b" / "plan" / name).read_text()
    # Resume: a finished scene is not planned again (its file is the done-marker); a missing one is.
    plan_dir = tmp_path / "a" / "plan"
    scene_files = [p for p in sorted(plan_dir.glob("0*.json"))]
    kept = json.loads(scene_files[0].read_text())[:1]
    scene_files[0].write_text(json.dumps(kept))
    scene_files[1].unlink()
    frames = plan_all(BuiltinBackend(3, seed=4), tmp_path / "a", config, progress=False)
    assert scene_files[1].read_text() == (tmp_path / "b" / "plan" / scene_files[1].name).read_text()
    assert sum(f.scene_id == "living_room-000" for f in frames) == 1
    with pytest.raises(UsageError, match="other settings"):
        plan_all(BuiltinBackend(3, seed=5), tmp_path / "a", GeneratorConfig(**SMALL, seed=5), progress=False)


def test_generated_frames_are_deterministic_and_valid(tmp_path):
    config = GeneratorConfig(**SMALL, seed=6)
    runs = []
    for name in ("a", "b"):
        got = []
        assert generate_unreal1k(BuiltinBackend(3, seed=6), tmp_path / name, config, got.append, progress=False) == 12
        runs.append(got)
    for fa, fb in zip(*runs, strict=True):
        np.testing.assert_array_equal(fa.rgb, fb.rgb)
        np.testing.assert_array_equal(fa.depth, fb.depth)
        assert fa.frame_id == fb.frame_id
    frames = runs[0]
    assert len({f.frame_id for f in frames}) == 12 and [f.sample_id for f in frames] == [f"{i:05d}" for i in range(12)]
    for f in frames:
        assert np.isfinite(f.depth).all() and f.depth.min() >= 0.4 and f.depth.max() <= 10.0
        assert f.rgb.dtype == np.uint8 and f.rgb.astype(float).std() > 3
        assert f.extra["object"] == f.object_name and len(f.extra["pose_c2w"]) == 16


def make_app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """test root"""

    return app


def test_generate_command_writes_prepared_parquet(tmp_path):
    from depthbench.data.dataset import PreparedDataset

    args = ["generate", "unreal1k", "--backend", "builtin", "--scenes", "2", "--objects", "2", "--frames-per-object", "3",
            "--sample", "5", "--out", str(tmp_path / "u"), "--seed", "1", "--height", "48", "--width", "64", "--no-progress"]
    result = CliRunner().invoke(make_app(), args)
    assert result.exit_code == 0, result.output
    data = PreparedDataset(tmp_path / "u", "test")
    assert len(data) == 5
    first = data[0]
    assert first.kind.value == "metric" and first.image.shape == (48, 64, 3)
    assert first.intrinsics == Intrinsics(51.2, 51.2, 31.5, 23.5)
    assert first.depth.min() >= 0.4 and first.valid.all()
    assert len(first.meta.extra["pose_c2w"]) == 16 and first.meta.extra["backend"] == "builtin"
    fingerprint = json.loads((tmp_path / "u" / "meta" / "test.json").read_text())["fingerprint"]
    # Re-running resumes from the plan and reproduces the same set.
    result = CliRunner().invoke(make_app(), args)
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "u" / "meta" / "test.json").read_text())["fingerprint"] == fingerprint
    np.testing.assert_array_equal(PreparedDataset(tmp_path / "u", "test")[0].depth, first.depth)


def test_generate_command_errors(tmp_path):
    result = CliRunner().invoke(make_app(), ["generate", "unreal1k", "--backend", "blender", "--out", str(tmp_path)])
    assert isinstance(result.exception, UsageError) and "--backend" in str(result.exception)
    result = CliRunner().invoke(make_app(), ["generate", "unreal1k", "--sample", "0", "--out", str(tmp_path)])
    assert isinstance(result.exception, UsageError) and "--sample" in str(result.exception)
    import socket

    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    result = CliRunner().invoke(make_app(), ["generate", "unreal1k", "--backend", "unrealcv", "--port", str(port),
                                              "--timeout", "1", "--out", str(tmp_path)])
    assert isinstance(result.exception, DataError) and "no server answers" in str(result.exception)
