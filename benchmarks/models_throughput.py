"""Inference throughput, parameters and multiply-adds of the reference models at 384×384.

For every model registered by densedepth.py and lrn.py: parameters, MAdds of one 384×384 forward
(torch.utils.flop_counter.FlopCounterMode counts convolutions and matrix products; MAdds = FLOPs / 2,
the convention of seed 004's Table 3), and forward-only throughput (images/s) at the given batch size
after warm-up. The same command runs on a GPU:

    python benchmarks/models_throughput.py --device cuda [--amp] --output benchmarks/results/models_throughput_cuda.md

Writes a markdown table (atomically) and prints it.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from contextlib import nullcontext
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from depthbench.models import create_model
from depthbench.models.densedepth import PAPER_PARAMS as DENSEDEPTH_PARAMS
from depthbench.models.lrn import ENCODERS
from depthbench.models.lrn import PAPER_PARAMS as LRN_PARAMS

MODELS = ["densedepth-densenet169", "densedepth-densenet201", *ENCODERS]
PAPER_PARAMS = {**DENSEDEPTH_PARAMS, **LRN_PARAMS}


def count_madds(model: torch.nn.Module, size: int, device: torch.device) -> float:
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(torch.zeros(1, 3, size, size, device=device))
    return counter.get_total_flops() / 2


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def throughput(
    model: torch.nn.Module, size: int, batch: int, iters: int, warmup: int, device: torch.device, amp: bool
) -> tuple[float, float]:
    """(images/s by wall clock, process CPU seconds per image over all threads)."""
    x = torch.randn(batch, 3, size, size, device=device)
    autocast = (
        torch.autocast(
            device_type=device.type, dtype=torch.float16 if device.type == "cuda" else torch.bfloat16
        )
        if amp
        else nullcontext()
    )
    with torch.inference_mode(), autocast:
        for _ in range(warmup):
            model(x)
        synchronize(device)
        start = time.perf_counter()
        cpu_start = time.process_time()
        for _ in range(iters):
            model(x)
        synchronize(device)
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu_start
    return batch * iters / elapsed, cpu / (batch * iters)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--amp", action="store_true", help="autocast (float16 on CUDA, bfloat16 on CPU)")
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--iters", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument(
        "--output", type=Path, default=Path(__file__).parent / "results" / "models_throughput.md"
    )
    args = parser.parse_args()

    device = torch.device(args.device)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    rows = []
    for name in args.models:
        torch.manual_seed(0)
        model = create_model(name).eval().to(device)
        params = model.num_parameters()
        madds = count_madds(model, args.size, device)
        ips, cpu_per_image = throughput(
            model, args.size, args.batch_size, args.iters, args.warmup, device, args.amp
        )
        paper = PAPER_PARAMS.get(name)
        paper_text = f"{paper / 1e6:.1f}" if paper else "–"
        delta = f"{100 * (params / paper - 1):+.1f} %" if paper else "–"
        rows.append(
            f"| {name} | {params / 1e6:.2f} | {paper_text} | {delta} | {madds / 1e9:.2f} | {ips:.2f} | {1000 / ips:.1f} | {cpu_per_image:.2f} |"
        )
        print(rows[-1], flush=True)
        del model

    hardware = (
        torch.cuda.get_device_name(device)
        if device.type == "cuda"
        else f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} threads"
    )
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        f"# Reference models: parameters, MAdds and throughput at {args.size}×{args.size}",
        "",
        f"- date: {time.strftime('%Y-%m-%d')}; device: {args.device} ({hardware}); torch {torch.__version__}",
        (
            f"- batch size {args.batch_size}, {args.warmup} warm-up + {args.iters} timed forward passes, "
            f"{'autocast' if args.amp else 'float32'}, random weights (throughput does not depend on them)"
        ),
        (
            f"- 1-minute load average before / after: {load_before:.1f} / {load_after:.1f} "
            "(CPU numbers from a shared machine are only comparable at similar load)"
        ),
        "- CPU s/image: process CPU time (all threads) per image; less sensitive to other processes than wall time",
        "- MAdds: FlopCounterMode FLOPs / 2 for one image (convolutions and matrix products only)",
        "- command: `python benchmarks/models_throughput.py " + " ".join(sys.argv[1:]) + "`",
        "",
        "| model | params (M) | paper (M) | Δ | MAdds (G) | images/s | ms/image | CPU s/image |",
        "|---|---|---|---|---|---|---|---|",
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
