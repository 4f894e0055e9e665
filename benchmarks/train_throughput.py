"""Training throughput (images/s) of the reference models: one command for the GPU figures.

    python benchmarks/train_throughput.py --device cuda --amp bf16

measures, on random inputs (no data loading: the model's own speed), DenseDepth-169 at 480×640
batch 8 (loss ``densedepth``) and LRN-MobileNetV2 at 384×384 batch 32 (loss
``scale-invariant-pairwise``), each as a full training step (forward, loss, backward, Adam/Ranger
step) with the requested autocast precision and channels-last memory format, against the
straightforward reference in the same run: fp32, contiguous layout. ``--compile`` adds torch.compile.
``--tiny`` shrinks sizes and batches for a CPU smoke measurement. Prints a markdown table; ``--output``
appends it to a file. Numbers are images per second, median of ``--repeats`` timed blocks after
``--warmup`` steps.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from depthbench.losses import get_loss
from depthbench.models import create_model
from depthbench.train.config import OptimConfig
from depthbench.train.optim import build_optimizer

# (model, options, (H, W), batch, loss, optimiser) — the figures the issue asks for
CASES = [
    ("densedepth-densenet169", {}, (480, 640), 8, "densedepth", "adam"),
    ("lrn-mobilenetv2", {}, (384, 384), 32, "scale-invariant-pairwise", "ranger"),
]
TINY = {"densedepth-densenet169": ((96, 128), 2), "lrn-mobilenetv2": ((96, 128), 4)}
AMP = {"none": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def measure(name: str, options: dict, hw: tuple[int, int], batch: int, loss_name: str, optim: str,
            device: torch.device, amp: torch.dtype | None, channels_last: bool, compile_: bool,
            warmup: int, steps: int, repeats: int) -> float:
    """Median images/s of full training steps on random data."""
    torch.manual_seed(0)
    model = create_model(name, **options).to(device).train()
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    net = torch.compile(model) if compile_ else model
    opt = build_optimizer(model, OptimConfig(name=optim, lr=1e-4))
    loss_fn = get_loss(loss_name)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    x = torch.rand(batch, 3, *hw, device=device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        out_hw = model(model.normalize(x)).shape[-2:]
    target = torch.rand(batch, *out_hw, device=device) * 5 + 0.5
    mask = torch.ones_like(target, dtype=torch.bool)

    def step() -> None:
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            raw = net(model.normalize(x))
        loss = loss_fn(raw[:, 0].float(), target, mask)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad(set_to_none=True)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    for _ in range(warmup):
        step()
    sync()
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
        rates.append(batch * steps / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--amp", choices=sorted(AMP), default="bf16")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--tiny", action="store_true", help="small sizes/batches for a CPU smoke figure")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default=None, help="measure only this model")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args()
    device = torch.device(args.device)
    amp = AMP[args.amp]
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        machine = torch.cuda.get_device_name(device)
    else:
        machine = f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    rows = [(f"machine: {machine}; torch {torch.__version__}; date {time.strftime('%Y-%m-%d')}; "
             f"command: python benchmarks/train_throughput.py {' '.join(sys.argv[1:])}"), "",
            ("| model | input | batch | reference fp32 img/s | " + f"{args.amp} + channels-last{' + compile' if args.compile else ''} img/s | speed-up |"),
            "|---|---|---|---|---|---|"]
    for name, options, hw, batch, loss, optim in CASES:
        if args.only and name != args.only:
            continue
        if args.tiny:
            hw, batch = TINY[name]
        common = {"device": device, "warmup": args.warmup, "steps": args.steps, "repeats": args.repeats}
        ref = measure(name, options, hw, batch, loss, optim, amp=None, channels_last=False, compile_=False, **common)
        fast = measure(name, options, hw, batch, loss, optim, amp=amp, channels_last=True, compile_=args.compile, **common)
        rows.append(f"| {name} | {hw[0]}×{hw[1]} | {batch} | {ref:.2f} | {fast:.2f} | {fast / ref:.2f}× |")
        print(rows[-1], flush=True)
    text = "\n".join(rows) + "\n"
    print(text)
    if args.output:
        with args.output.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
