"""Scale-invariant pairwise loss (seed 004, eq. 1): the O(n log n) sorted form (eq. 2, used by
depthbench.losses.scale_invariant) against the straightforward O(n²) pair matrix, forward + backward,
on one image of n valid pixels. Also checks that both give the same value.

    python benchmarks/models_si_loss.py [--device cuda]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from depthbench.losses.scale_invariant import scale_invariant_pairwise_loss


def quadratic_si(pred_log: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Eq. 1 literally: all pairs through an n×n matrix (one image, all pixels valid)."""
    r = (pred_log - torch.log(target)).flatten()
    n = r.numel()
    return (r[:, None] - r[None, :]).abs().sum() / 2 / (n * (n - 1) / 2)


def timed(
    fn, pred: torch.Tensor, target: torch.Tensor, repeats: int, device: torch.device
) -> tuple[float, float]:
    best = float("inf")
    value = 0.0
    for _ in range(repeats):
        p = pred.clone().requires_grad_(True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        loss = fn(p, target)
        loss.backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
        value = float(loss.detach())
    return best, value


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--sizes", type=int, nargs="*", default=[32, 64, 96, 128, 384])
    parser.add_argument("--quadratic-max", type=int, default=128, help="largest side for the O(n²) reference")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "models_si_loss.md"
    )
    args = parser.parse_args()
    device = torch.device(args.device)
    rows = []
    for side in args.sizes:
        torch.manual_seed(0)
        pred = torch.randn(1, side, side, device=device, dtype=torch.float64)
        target = torch.rand(1, side, side, device=device, dtype=torch.float64) + 0.1
        fast_t, fast_v = timed(
            lambda p, t: scale_invariant_pairwise_loss(p, t), pred, target, args.repeats, device
        )
        if side <= args.quadratic_max:
            slow_t, slow_v = timed(lambda p, t: quadratic_si(p[0], t[0]), pred, target, args.repeats, device)
            slow = f"{1000 * slow_t:.1f}"
            speedup = f"{slow_t / fast_t:.0f}×"
            diff = f"{abs(fast_v - slow_v) / abs(slow_v):.1e}"
        else:
            slow, speedup, diff = "not run (n² memory)", "–", "–"
        rows.append(f"| {side}×{side} | {side * side} | {1000 * fast_t:.2f} | {slow} | {speedup} | {diff} |")
        print(rows[-1], flush=True)
    hardware = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    lines = [
        "# Scale-invariant pairwise loss: sorted O(n log n) vs pair matrix O(n²)",
        "",
        f"- date: {time.strftime('%Y-%m-%d')}; device: {args.device} ({hardware}); torch {torch.__version__}; float64",
        f"- one image, all pixels valid; forward + backward; best of {args.repeats}",
        f"- 1-minute load average at the end: {os.getloadavg()[0]:.1f} (shared machine)",
        "- command: `python benchmarks/models_si_loss.py " + " ".join(sys.argv[1:]) + "`",
        "",
        "| image | n pixels | sorted (ms) | pair matrix (ms) | speed-up | relative difference |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
    ]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=args.output.parent, prefix=".tmp-", suffix=".md")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines))
    os.replace(tmp, args.output)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
