"""Time Eigen metrics on N pairs of 480×640 against a straightforward masked numpy implementation
in the same run (issue: ≤0.5 ms per pair on the 2-core CPU; the numpy version takes ~2.3 ms).

    python benchmarks/eigen_metrics.py [--pairs 654] [--device cpu|cuda] [--repeats 5]

Prints per-pair milliseconds (median over repeats) and checks both give the same numbers.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import time

import numpy as np


def numpy_reference(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    p, g = pred[mask], gt[mask]
    thresh = np.maximum(g / p, p / g)
    log_diff = np.log(p) - np.log(g)
    return {
        "abs_rel": float(np.mean(np.abs(p - g) / g)),
        "sq_rel": float(np.mean((p - g) ** 2 / g)),
        "rmse": math.sqrt(np.mean((p - g) ** 2)),
        "rmse_log": math.sqrt(np.mean(log_diff**2)),
        "log10": float(np.mean(np.abs(np.log10(p) - np.log10(g)))),
        "silog": 100 * math.sqrt(np.mean(log_diff**2) - np.mean(log_diff) ** 2),
        "delta1": float(np.mean(thresh < 1.25)),
        "delta2": float(np.mean(thresh < 1.25**2)),
        "delta3": float(np.mean(thresh < 1.25**3)),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pairs", type=int, default=654)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    from depthbench.metrics import eigen_metrics, eigen_stats

    rng = np.random.default_rng(0)
    gt = rng.uniform(0.5, 10.0, (args.pairs, 480, 640)).astype(np.float32)
    pred = (gt * rng.uniform(0.75, 1.33, gt.shape)).astype(np.float32)
    mask = rng.random(gt.shape) > 0.1

    eigen_stats(pred[:2], gt[:2], mask[:2])  # compile / load the numba cache
    ref_times, fast_times = [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for i in range(args.pairs):
            numpy_reference(pred[i], gt[i], mask[i])
        ref_times.append((time.perf_counter() - start) / args.pairs * 1e3)
        start = time.perf_counter()
        eigen_metrics(pred, gt, mask, average="per_image")
        fast_times.append((time.perf_counter() - start) / args.pairs * 1e3)

    got = eigen_metrics(pred[0], gt[0], mask[0])
    want = numpy_reference(pred[0], gt[0], mask[0])
    worst = max(abs(got[k] - want[k]) / max(abs(want[k]), 1e-12) for k in want)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    print(f"pairs: {args.pairs} × 480×640, repeats: {args.repeats}")
    print(f"numpy reference : {statistics.median(ref_times):.3f} ms/pair (min {min(ref_times):.3f})")
    print(f"depthbench (cpu): {statistics.median(fast_times):.3f} ms/pair (min {min(fast_times):.3f})")
    print(f"max relative difference vs reference: {worst:.2e}")

    if args.device.startswith("cuda"):
        import torch

        p, g, m = (torch.from_numpy(x).to(args.device) for x in (pred, gt, mask))
        eigen_metrics(p[:2], g[:2], m[:2])
        torch.cuda.synchronize()
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            eigen_metrics(p, g, m, average="per_image")
            torch.cuda.synchronize()
            times.append((time.perf_counter() - start) / args.pairs * 1e3)
        print(f"depthbench ({args.device}): {statistics.median(times):.4f} ms/pair, "
              f"{args.pairs / (statistics.median(times) * args.pairs / 1e3):.0f} pairs/s")


if __name__ == "__main__":
    main()
