"""Inference time and parameter counts of the Li et al. models, and the IRLS depth/gradient fusion
against a generic optimiser (L-BFGS-B on the same objective) as the straightforward reference.

    PYTHONPATH=. python benchmarks/li_throughput.py [--device cpu|cuda] [--repeats 3] [--models NAME ...]
                                       [--out benchmarks/results/li_models.md]

Models run in eval mode under ``torch.no_grad`` on a batch of one at their input size (random
weights: speed does not depend on the values); the time is the network forward only (for the
``-fused`` pipeline add the IRLS fusion row of the second table). ``--device cuda`` times on a GPU (synchronising
around each call); the recorded results say which device they came from.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import scipy.optimize
import torch

from depthbench.models import create_model
from depthbench.prep.gradient_fusion import fuse_depth_gradients, fusion_objective

LI_MODELS = [
    "li2017-multiscale-vgg16",
    "li2017-multiscale-vgg16-grad",
    "li2017-multiscale-vgg16-fused",
    "li2017-twostream-vgg16",
    "li2017-twostream-vgg19",
    "li2017-twostream-resnet50",
    "li2018-dilated-resnet152",
]


def time_model(name: str, device: str, repeats: int) -> dict:
    torch.manual_seed(0)
    model = create_model(name).to(device).eval()
    h, w = model.info.input_size
    x = torch.rand(1, 3, h, w, device=device)
    with torch.no_grad():
        model(model.normalize(x))  # warm-up
        times = []
        for _ in range(repeats):
            if device == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            out = model(model.normalize(x))
            if device == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
    return {
        "name": name,
        "params": model.num_parameters(),
        "input": f"{h}×{w}",
        "output": "×".join(str(s) for s in out.shape[1:]),
        "median_s": statistics.median(times),
        "min_s": min(times),
    }


def fusion_case(h: int, w: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    truth = 2.0 + 0.02 * xx + 0.01 * yy + 0.5 * np.exp(-(((xx - w / 2) / (w / 6)) ** 2 + ((yy - h / 2) / (h / 6)) ** 2))
    gx = np.zeros_like(truth)
    gy = np.zeros_like(truth)
    gx[:, 1:-1] = truth[:, 2:] - truth[:, :-2]
    gy[1:-1, :] = truth[2:, :] - truth[:-2, :]
    noisy = truth + np.random.default_rng(seed).normal(0, 0.1, truth.shape)
    return truth, noisy, gx, gy


def time_fusion(h: int, w: int) -> list[dict]:
    truth, noisy, gx, gy = fusion_case(h, w)
    rows = []
    t0 = time.perf_counter()
    fused = fuse_depth_gradients(noisy, gx, gy, iterations=10)
    rows.append(("IRLS, sparse direct solve (10 it.)", time.perf_counter() - t0, fused))

    def objective_and_grad(v: np.ndarray) -> tuple[float, np.ndarray]:
        d = v.reshape(h, w)
        r0 = d - noisy
        rx = (d[:, 2:] - d[:, :-2]) - gx[:, 1:-1]
        ry = (d[2:, :] - d[:-2, :]) - gy[1:-1, :]
        p0, px, py = np.sqrt(r0**2 + 1e-4), np.sqrt(rx**2 + 1e-4), np.sqrt(ry**2 + 1e-4)
        g = r0 / p0
        sx, sy = 10 * rx / px, 10 * ry / py
        g[:, 2:] += sx
        g[:, :-2] -= sx
        g[2:, :] += sy
        g[:-2, :] -= sy
        return float(p0.sum() + 10 * (px.sum() + py.sum())), g.ravel()

    t0 = time.perf_counter()
    res = scipy.optimize.minimize(objective_and_grad, noisy.ravel(), jac=True, method="L-BFGS-B", options={"maxiter": 2000})
    rows.append(("L-BFGS-B reference (analytic gradient)", time.perf_counter() - t0, res.x.reshape(h, w)))
    return [
        {
            "method": label,
            "size": f"{h}×{w}",
            "seconds": secs,
            "objective": fusion_objective(d, noisy, gx, gy),
            "rmse_vs_truth": float(np.sqrt(np.mean((d - truth) ** 2))),
            "rmse_noisy_input": float(np.sqrt(np.mean((noisy - truth) ** 2))),
        }
        for label, secs, d in rows
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--models", nargs="*", default=LI_MODELS)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "li_models.md")
    args = parser.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: no CUDA device is visible to torch")

    model_rows = [time_model(name, args.device, args.repeats) for name in args.models]
    fusion_rows = time_fusion(111, 150)

    device = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# Li et al. models: inference time and parameter counts",
        "",
        (
            f"Date: {datetime.date.today().isoformat()}. Device: {device}. torch {torch.__version__}. "
            f"Load average at the end of the run: {load:.1f}."
        ),
        f"Command: `PYTHONPATH=. python benchmarks/li_throughput.py --device {args.device} --repeats {args.repeats}`.",
        "Batch 1, eval mode, `torch.no_grad`, random weights; median and min of the repeats after one warm-up.",
        "",
        "| model | parameters | input | raw output | median s | min s |",
        "|---|---:|---|---|---:|---:|",
    ]
    for r in model_rows:
        lines.append(f"| {r['name']} | {r['params']:,} | {r['input']} | {r['output']} | {r['median_s']:.3f} | {r['min_s']:.3f} |")
    lines += [
        "",
        "## Depth/gradient fusion (IRLS) vs a generic optimiser",
        "",
        "Tilted plane + Gaussian bump, depth noise σ = 0.1 m, exact [−1, 0, 1] gradients, ω = 10, ε = 1e-4.",
        "",
        "| method | size | seconds | objective | RMSE vs truth | RMSE of noisy input |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in fusion_rows:
        lines.append(
            f"| {r['method']} | {r['size']} | {r['seconds']:.3f} | {r['objective']:.2f} | {r['rmse_vs_truth']:.4f} | {r['rmse_noisy_input']:.4f} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".md.tmp")
    tmp.write_text(text)
    os.replace(tmp, args.out)


if __name__ == "__main__":
    main()
