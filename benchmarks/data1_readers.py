"""Benchmark of data1's per-frame work against straightforward references, in the same run.

1. NYU raw projection into the RGB camera (``project_depth_to_rgb``, vectorised, undistortion off)
   against a per-point Python loop with a dict z-buffer, on the real fixture frame when present
   (../shared/fixtures/nyu_raw_frame) or a synthetic 480×640 frame. Outputs are checked equal.
2. TUM timestamp association (``associate``: sorted search) against the all-pairs reference, on
   two streams of 3000 stamps (a ~100 s sequence at 30 Hz). Outputs are checked equal.

Run: ``PYTHONPATH=. python benchmarks/data1_readers.py`` (writes nothing; copy the printed table into
benchmarks/results/data1_readers.md).
"""

from __future__ import annotations

import platform
import time
from pathlib import Path

import numpy as np

from depthbench.data.readers.nyu_raw import (
    KinectCalibration,
    project_depth_to_rgb,
    raw_to_metres,
    read_raw_depth,
)
from depthbench.data.readers.tum import associate

_ROOT = Path(__file__).resolve().parents[1]
FIXTURE = (
    next(
        (p for p in (_ROOT.parent / "shared", _ROOT.parents[1] / "shared") if p.is_dir()),
        _ROOT.parent / "shared",
    )
    / "fixtures"
    / "nyu_raw_frame"
    / "NYU_depth.pgm"
)


def reference_projection(depth: np.ndarray, calib: KinectCalibration) -> np.ndarray:
    out = np.zeros(depth.shape, np.float64)
    best: dict[tuple[int, int], float] = {}
    for v, u in zip(*np.nonzero(depth > 0)):
        z = float(depth[v, u])
        p = np.array(
            [(u - calib.depth.cx) * z / calib.depth.fx, (v - calib.depth.cy) * z / calib.depth.fy, z]
        )
        q = calib.rotation @ p + np.asarray(calib.translation)
        col = int(np.rint(calib.rgb.fx * q[0] / q[2] + calib.rgb.cx))
        row = int(np.rint(calib.rgb.fy * q[1] / q[2] + calib.rgb.cy))
        if q[2] > 0 and 0 <= row < depth.shape[0] and 0 <= col < depth.shape[1]:
            best[(row, col)] = min(best.get((row, col), np.inf), q[2])
    for (row, col), z in best.items():
        out[row, col] = z
    return out


def reference_associate(t1: np.ndarray, t2: np.ndarray, max_difference: float) -> list[tuple[int, int]]:
    pairs = sorted(
        (abs(a - b), i, j) for i, a in enumerate(t1) for j, b in enumerate(t2) if abs(a - b) < max_difference
    )
    used_i: set[int] = set()
    used_j: set[int] = set()
    out = []
    for _, i, j in pairs:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            out.append((i, j))
    return sorted(out, key=lambda p: (t1[p[0]], p[0]))


def timed(fn, repeat: int = 3):  # type: ignore[no-untyped-def]
    best, value = np.inf, None
    for _ in range(repeat):
        start = time.perf_counter()
        value = fn()
        best = min(best, time.perf_counter() - start)
    return best, value


def main() -> None:
    calib = KinectCalibration()
    if FIXTURE.is_file():
        depth, source = raw_to_metres(read_raw_depth(FIXTURE)), "real fixture frame"
    else:
        rng = np.random.default_rng(0)
        depth, source = rng.uniform(1, 6, (480, 640)).astype(np.float32), "synthetic frame"
    fast_s, fast = timed(lambda: project_depth_to_rgb(depth, calib, undistort=False))
    ref_s, ref = timed(lambda: reference_projection(depth, calib), repeat=1)
    assert np.allclose(fast, ref, rtol=1e-6) and np.array_equal(fast > 0, ref > 0)
    undist_s, _ = timed(lambda: project_depth_to_rgb(depth, calib, undistort=True))

    rng = np.random.default_rng(1)
    t_rgb = np.sort(rng.uniform(0, 100, 3000))
    t_depth = np.sort(t_rgb + rng.normal(0, 0.01, 3000))
    first = [(float(t), "") for t in t_rgb]
    second = [(float(t), "") for t in t_depth]
    assoc_s, got = timed(lambda: associate(first, second, 0.02))
    assoc_ref_s, expected = timed(lambda: reference_associate(t_rgb, t_depth, 0.02), repeat=1)
    assert got == expected

    print(
        f"machine: {platform.processor() or platform.machine()}, {platform.system()}, python {platform.python_version()}"
    )
    print("| task | depthbench | reference | speed-up |")
    print("| --- | --- | --- | --- |")
    print(
        f"| NYU raw projection, 480×640 {source} (no undistortion) | {fast_s * 1e3:.1f} ms | {ref_s * 1e3:.0f} ms (per-point loop) | {ref_s / fast_s:.0f}× |"
    )
    print(
        f"| NYU raw projection with depth undistortion (cv2.undistortPoints) | {undist_s * 1e3:.1f} ms | — | — |"
    )
    print(
        f"| TUM association, 3000 × 3000 stamps | {assoc_s * 1e3:.1f} ms | {assoc_ref_s * 1e3:.0f} ms (all pairs) | {assoc_ref_s / assoc_s:.0f}× |"
    )


if __name__ == "__main__":
    main()
