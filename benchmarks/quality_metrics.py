"""Benchmark: the structure-quality suite (Eigen + mSSIM + Sobel-edge F1 + normal error) per
480×640 pair, depthbench's batched families (numba kernels on CPU, torch on CUDA) vs the naive per-pair stack (numpy Eigen
formulas, scikit-image structural_similarity, cv2.Sobel for prediction and GT, numpy normals),
timed in the same run. Medians over repeats; the load average is recorded because the machine may
be shared.

    python benchmarks/quality_metrics.py [--device cpu|cuda] [--batch 4 8] [--repeats 7] [--pairs 32] [--threads 1]

Both wall-clock and process CPU time are reported: on a machine shared with other jobs the wall
time mostly measures the scheduler, while CPU time (with --threads 1) measures the work done.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np
import torch


def make_pairs(n: int, h: int = 480, w: int = 640, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smooth room-like GT (a tilted plane plus blobs) and a noisy, slightly scaled prediction."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    gts, preds = [], []
    for _ in range(n):
        g = 2.0 + 3.0 * xx / w + 1.5 * yy / h
        for _ in range(4):
            cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(20, 90)
            g = np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r * r, g - rng.uniform(0.5, 1.5), g)
        g = np.clip(g, 0.5, 9.5).astype(np.float32)
        p = (g * rng.uniform(0.9, 1.1) + rng.normal(0, 0.05, g.shape)).clip(0.01, 10).astype(np.float32)
        gts.append(g)
        preds.append(p)
    gt, pred = np.stack(gts), np.stack(preds)
    mask = np.zeros_like(gt, dtype=bool)
    mask[:, 45:471, 41:601] = True  # NYU Eigen crop
    return pred, gt, mask


def naive_pair(p: np.ndarray, g: np.ndarray, m: np.ndarray) -> dict[str, float]:
    """The straightforward per-pair stack the issue describes."""
    import cv2
    from skimage.metrics import structural_similarity

    pv, gv = p[m].astype(np.float64), g[m].astype(np.float64)
    thresh = np.maximum(pv / gv, gv / pv)
    out = {
        "abs_rel": np.mean(np.abs(pv - gv) / gv), "sq_rel": np.mean((pv - gv) ** 2 / gv),
        "rmse": np.sqrt(np.mean((pv - gv) ** 2)), "rmse_log": np.sqrt(np.mean((np.log(pv) - np.log(gv)) ** 2)),
        "log10": np.mean(np.abs(np.log10(pv) - np.log10(gv))),
        "delta1": np.mean(thresh < 1.25), "delta2": np.mean(thresh < 1.25**2), "delta3": np.mean(thresh < 1.25**3),
    }
    box = np.s_[45:471, 41:601]
    vis_g, vis_p = np.clip(g[box] / 10.0, 0, 1).astype(np.float64), np.clip(p[box] / 10.0, 0, 1).astype(np.float64)
    out["mssim"] = structural_similarity(vis_g, vis_p, data_range=1.0, gaussian_weights=True, sigma=1.5,
                                         use_sample_covariance=False)
    mags = []
    for d in (p, g):
        gx = cv2.Sobel(d, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(d, cv2.CV_32F, 0, 1, ksize=3)
        mags.append(np.sqrt(gx * gx + gy * gy)[box] > 0.5)
    tp = (mags[0] & mags[1]).sum()
    prec, rec = tp / max(mags[0].sum(), 1), tp / max(mags[1].sum(), 1)
    out["edge_f1"] = 2 * prec * rec / max(prec + rec, 1e-12)
    normals = []
    for d in (p, g):
        dy, dx = np.gradient(d.astype(np.float64))
        n = np.stack([-dx, -dy, np.ones_like(dx)], axis=-1)
        normals.append(n / np.linalg.norm(n, axis=-1, keepdims=True))
    cos = np.clip((normals[0] * normals[1]).sum(-1)[box], -1, 1)
    out["normal_cos_dist"] = np.mean(1 - cos)
    out["normal_angle_mean"] = np.degrees(np.arccos(cos)).mean()
    return out


def fast_batch(pred, gt, mask, device: torch.device, sync) -> None:  # type: ignore[no-untyped-def]
    from depthbench.metrics.edges import edge_stats
    from depthbench.metrics.eigen import eigen_stats
    from depthbench.metrics.normals import normal_stats
    from depthbench.metrics.ssim import ssim_stats

    eigen_stats(pred, gt, mask)
    ssim_stats(pred, gt, mask, 1e-3, 10.0)
    edge_stats(pred, gt, mask)
    normal_stats(pred, gt, mask)
    sync()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, nargs="+", default=[4, 8], help="batch sizes (4: the evaluator's)")
    parser.add_argument("--threads", type=int, default=0, help="torch/numba/OpenCV threads (0: library default)")
    parser.add_argument("--pairs", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--naive-pairs", type=int, default=8)
    args = parser.parse_args()
    if args.threads:
        import cv2
        import numba

        torch.set_num_threads(args.threads)
        numba.set_num_threads(args.threads)
        cv2.setNumThreads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    pred, gt, mask = make_pairs(args.pairs)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    print(f"host {platform.node()} cpu_count {os.cpu_count()} torch threads {torch.get_num_threads()} "
          f"device {device} load {os.getloadavg()}")
    all_batches = {}
    for size in args.batch:
        if device.type == "cuda":
            all_batches[size] = [tuple(torch.from_numpy(a[i : i + size]).to(device) for a in (pred, gt, mask))
                                 for i in range(0, args.pairs, size)]
        else:
            all_batches[size] = [tuple(a[i : i + size] for a in (pred, gt, mask)) for i in range(0, args.pairs, size)]
        fast_batch(*all_batches[size][0], device, sync)  # warm-up (numba compile, allocator)
    fast_ms = {size: [] for size in args.batch}
    fast_cpu = {size: [] for size in args.batch}
    naive_ms, naive_cpu = [], []
    if device.type == "cpu":
        naive_pair(pred[0], gt[0], mask[0])
    # Interleave fast and naive repeats so both see the same machine load.
    for r in range(args.repeats):
        for size, batches in all_batches.items():
            start, cpu = time.perf_counter(), time.process_time()
            for b in batches:
                fast_batch(*b, device, sync)
            fast_ms[size].append((time.perf_counter() - start) * 1000 / args.pairs)
            fast_cpu[size].append((time.process_time() - cpu) * 1000 / args.pairs)
        if device.type == "cpu" and r % 2 == 0:
            start, cpu = time.perf_counter(), time.process_time()
            for i in range(args.naive_pairs):
                naive_pair(pred[i], gt[i], mask[i])
            naive_ms.append((time.perf_counter() - start) * 1000 / args.naive_pairs)
            naive_cpu.append((time.process_time() - cpu) * 1000 / args.naive_pairs)
    naive = statistics.median(naive_ms) if naive_ms else None
    if naive_ms:
        ncpu = statistics.median(naive_cpu)
        print(f"naive stack: wall median {naive:.2f} ms/pair, CPU median {ncpu:.2f} ms/pair; wall all "
              f"{[round(x, 2) for x in naive_ms]}")
    for size, batches in all_batches.items():
        fast, fcpu = statistics.median(fast_ms[size]), statistics.median(fast_cpu[size])
        ratio = f"; speed-up vs naive wall {naive / fast:.1f}×, CPU {ncpu / fcpu:.1f}×" if naive else ""
        print(f"fast suite (batch {size}): wall median {fast:.2f} ms/pair ({1000 / fast:.0f} pairs/s), "
              f"CPU median {fcpu:.2f} ms/pair; wall all {[round(x, 2) for x in fast_ms[size]]}{ratio}")
        print(f"  per family (batch {size}; wall / CPU ms/pair, median of repeats): "
              + breakdown(batches, device, sync, args))
    print(f"load after {os.getloadavg()}")


def breakdown(batches, device, sync, args) -> str:  # type: ignore[no-untyped-def]
    from depthbench.metrics.edges import edge_stats
    from depthbench.metrics.eigen import eigen_stats
    from depthbench.metrics.normals import normal_stats
    from depthbench.metrics.ssim import ssim_stats

    parts = {"eigen": lambda p, g, m: eigen_stats(p, g, m), "ssim": lambda p, g, m: ssim_stats(p, g, m, 1e-3, 10.0),
             "edge_f1": lambda p, g, m: edge_stats(p, g, m), "normals": lambda p, g, m: normal_stats(p, g, m)}
    out = []
    for name, fn in parts.items():
        wall, cpu = [], []
        for _ in range(args.repeats):
            start, start_cpu = time.perf_counter(), time.process_time()
            for b in batches:
                fn(*b)
            sync()
            wall.append((time.perf_counter() - start) * 1000 / args.pairs)
            cpu.append((time.process_time() - start_cpu) * 1000 / args.pairs)
        out.append(f"{name} {statistics.median(wall):.2f} / {statistics.median(cpu):.2f}")
    return ", ".join(out)


if __name__ == "__main__":
    main()
