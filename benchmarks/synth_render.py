"""Benchmark of the built-in ray caster and the Unreal-1k generator (builtin backend).

1. Render speed: the numba kernel (depth + shading + shadows) against a straightforward numpy
   reference that computes depth only (vectorised per primitive over the whole image), on the same
   frames; the two depth maps are also compared (max relative difference).
2. synthetic-rooms default splits: 64 test + 512 train frames at 240×320.
3. Unreal-1k end to end: `generate unreal1k --backend builtin` producing a 1,000-frame set at
   640×480 (plan pass + sample pass + parquet writing).

Usage: python benchmarks/synth_render.py [--skip-unreal1k] [--out benchmarks/results/synth_render.md]
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

from depthbench.prep.synthetic import (
    default_intrinsics,
    make_room_scene,
    render,
    sample_camera_poses,
    synthetic_rooms_frames,
)
from depthbench.prep.synthetic.geometry import BOX, PLANE, SPHERE


def reference_depth(scene, pose, k, h, w) -> np.ndarray:
    """Nearest-hit camera-z depth with plain numpy, one primitive at a time over all pixels."""
    v, u = np.mgrid[0:h, 0:w].astype(np.float64)
    d = np.stack([(u - k.cx) / k.fx, (v - k.cy) / k.fy, np.ones_like(u)], -1) @ pose[:3, :3].T
    o = pose[:3, 3]
    best = np.full((h, w), np.inf)
    eps = 1e-9
    for kind, p in zip(scene.kinds, scene.params, strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            if kind == PLANE:
                t = (p[3] - p[:3] @ o) / (d @ p[:3])
            elif kind == SPHERE:
                q = o - p[:3]
                a, b, c = (d * d).sum(-1), d @ q, q @ q - p[3] ** 2
                disc = b * b - a * c
                t = np.where(disc >= 0, (-b - np.sqrt(np.maximum(disc, 0))) / a, np.inf)
            elif kind == BOX:
                rot = p[6:15].reshape(3, 3)
                lo_, ld = rot @ (o - p[:3]), d @ rot.T
                t1, t2 = (-p[3:6] - lo_) / ld, (p[3:6] - lo_) / ld
                tn, tf = np.minimum(t1, t2).max(-1), np.maximum(t1, t2).min(-1)
                t = np.where((tn <= tf) & (tn > eps), tn, np.inf)
            else:  # CYLINDER
                qx, qy = o[0] - p[0], o[1] - p[1]
                a = d[..., 0] ** 2 + d[..., 1] ** 2
                b = qx * d[..., 0] + qy * d[..., 1]
                disc = b * b - a * (qx * qx + qy * qy - p[4] ** 2)
                ts = (-b - np.sqrt(np.maximum(disc, 0))) / a
                z = o[2] + ts * d[..., 2]
                t = np.where((disc >= 0) & (z >= p[2]) & (z <= p[3]), ts, np.inf)
                for zc in (p[2], p[3]):
                    tc = (zc - o[2]) / d[..., 2]
                    inside = (qx + tc * d[..., 0]) ** 2 + (qy + tc * d[..., 1]) ** 2 <= p[4] ** 2
                    t = np.minimum(t, np.where(inside & (tc > eps), tc, np.inf))
        t = np.where(np.isfinite(t) & (t > eps), t, np.inf)
        best = np.minimum(best, t)
    return best


def timed(fn, repeat: int) -> float:
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--skip-unreal1k", action="store_true")
    parser.add_argument("--out", default="benchmarks/results/synth_render.md")
    parser.add_argument("--scenes", type=int, default=16, help="Unreal-1k scenes (16 × 8 objects × 12 frames ≈ 1,200 accepted)")
    args = parser.parse_args()
    lines = [
        "# Built-in ray caster and Unreal-1k generation (builtin backend)",
        "",
        f"- date: 2026-11-21; machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs), "
        f"numba {numba.__version__} with {numba.get_num_threads()} threads; python {platform.python_version()}",
        f"- load average at start: {os.getloadavg()[0]:.2f}",
        "",
    ]
    # 1. numba kernel vs numpy reference, 640×480.
    h, w = 480, 640
    k = default_intrinsics(h, w)
    scene = make_room_scene(3, "living_room")
    poses = sample_camera_poses(scene, 4, seed=3)
    render(scene, poses[0], k, h, w)  # compile / load the cache
    cpu = time.process_time()
    fast = timed(lambda: [render(scene, p, k, h, w) for p in poses], 3) / len(poses)
    fast_cpu = (time.process_time() - cpu) / (3 * len(poses))
    scene_noshadow = make_room_scene(3, "living_room", shadows=False)
    fast_noshadow = timed(lambda: [render(scene_noshadow, p, k, h, w) for p in poses], 3) / len(poses)
    ref = timed(lambda: [reference_depth(scene, p, k, h, w) for p in poses], 1) / len(poses)
    worst = max(float(np.max(np.abs(render(scene, p, k, h, w)[1] - reference_depth(scene, p, k, h, w)) / reference_depth(scene, p, k, h, w))) for p in poses)
    lines += [
        f"## Render, one frame {w}×{h} (living room, {len(scene.kinds)} primitives, {len(scene.lights)} lights)",
        "",
        "| implementation | wall ms / frame | frames / s |",
        "|---|---:|---:|",
        f"| numba kernel: depth + textured Lambertian shading + hard shadows | {1e3 * fast:.1f} | {1 / fast:.1f} |",
        f"| numba kernel: depth + shading, no shadows | {1e3 * fast_noshadow:.1f} | {1 / fast_noshadow:.1f} |",
        f"| numpy reference: depth only | {1e3 * ref:.1f} | {1 / ref:.1f} |",
        "",
        f"Max relative depth difference numba vs numpy reference: {worst:.2e}. CPU time of the numba "
        f"kernel with shadows: {1e3 * fast_cpu:.1f} ms per frame (both threads together).",
        "",
    ]
    # 2. synthetic-rooms default splits.
    cpu = time.process_time()
    start = time.perf_counter()
    n_test = sum(1 for _ in synthetic_rooms_frames("test", 64))
    t_test = time.perf_counter() - start
    start = time.perf_counter()
    n_train = sum(1 for _ in synthetic_rooms_frames("train", 512))
    t_train = time.perf_counter() - start
    cpu_rooms = time.process_time() - cpu
    lines += [
        "## synthetic-rooms default splits (240×320, shadows on)",
        "",
        f"- test: {n_test} frames in {t_test:.1f} s; train: {n_train} frames in {t_train:.1f} s "
        f"({(n_test + n_train) / (t_test + t_train):.0f} frames/s, scene building and pose sampling included); "
        f"CPU time of both splits {cpu_rooms:.1f} s, i.e. ≈ {cpu_rooms / 2:.1f} s wall on 2 idle cores",
        "",
    ]
    # 3. Unreal-1k, 1,000 frames at 640×480.
    if not args.skip_unreal1k:
        from depthbench.prep.synthetic.backends import BuiltinBackend
        from depthbench.prep.synthetic.generator import GeneratorConfig, generate_unreal1k, plan_all
        from depthbench.prep.synthetic.writers import PreparedFrameSink

        n = args.scenes
        config = GeneratorConfig("builtin", scenes=n, objects_per_scene=8, frames_per_object=12, sample=1000, seed=0)
        with tempfile.TemporaryDirectory() as tmp:
            cpu = time.process_time()
            start = time.perf_counter()
            planned = len(plan_all(BuiltinBackend(n, seed=0), Path(tmp), config, progress=False))
            t_plan = time.perf_counter() - start
            start = time.perf_counter()
            with PreparedFrameSink(tmp) as sink:
                written = generate_unreal1k(BuiltinBackend(n, seed=0), tmp, config, sink, progress=False)
            t_sample = time.perf_counter() - start
            cpu_u1k = time.process_time() - cpu
            size = sum(p.stat().st_size for p in Path(tmp, "data").glob("*.parquet"))
        lines += [
            "## Unreal-1k with the builtin backend, 640×480",
            "",
            f"Command equivalent: `depthbench generate unreal1k --backend builtin --scenes {n} --objects 8 "
            "--frames-per-object 12 --sample 1000 --out DIR --seed 0`",
            "",
            f"- plan pass (fly-around candidates rendered at full size and checked): {planned} accepted frames "
            f"of at most {n * 8 * 12} slots (scenes with fewer than 8 objects have fewer) in {t_plan:.0f} s",
            f"- sample pass (resume finds every scene planned; the sampled frames re-rendered, PNG-encoded, "
            f"written as parquet): {written} frames in {t_sample:.0f} s; parquet {size / 2**20:.0f} MiB",
            f"- total: {t_plan + t_sample:.0f} s wall ({(t_plan + t_sample) / 60:.1f} min) on the shared machine; "
            f"CPU time {cpu_u1k:.0f} s, i.e. ≈ {cpu_u1k / 120:.1f} min wall on 2 idle cores",
            "",
        ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tmp_out = Path(args.out).with_suffix(".md.tmp")
    tmp_out.write_text("\n".join(lines) + "\n")
    os.replace(tmp_out, args.out)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
