"""torchrun / DDP plumbing.

``torchrun --nproc_per_node=N -m depthbench train ...`` sets RANK, LOCAL_RANK and WORLD_SIZE; the
process group uses NCCL on CUDA and gloo on CPU. Each rank sees ``batch_size`` samples per step
(``MixtureSampler`` hands rank r every W-th draw, as ``DistributedSampler`` does), DDP averages the
gradients, and only rank 0 logs and writes checkpoints. Metrics are reduced as SUMS: the training
loss as (Σ loss·n, Σ n) and validation through ``MetricAccumulator.state`` (pooled sums, per-image
sums, image count), so every rank ends with the numbers one process would compute — never a mean
of per-rank means.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: torch.device) -> DistInfo:
    """Join the torchrun process group when WORLD_SIZE > 1 (gloo on CPU, NCCL on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    rank = int(os.environ["RANK"])
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(local)
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return DistInfo(rank=rank, local_rank=local, world_size=world)


def local_device(device: torch.device, info: DistInfo) -> torch.device:
    """Each rank's own GPU (cuda:LOCAL_RANK) under torchrun; the given device otherwise."""
    if info.enabled and device.type == "cuda":
        return torch.device("cuda", info.local_rank)
    return device


def all_reduce_sum(values: np.ndarray | torch.Tensor, info: DistInfo, device: torch.device) -> np.ndarray:
    """Element-wise sum over ranks (float64); identity with one process."""
    t = torch.as_tensor(np.asarray(values, dtype=np.float64) if not isinstance(values, torch.Tensor) else values,
                        dtype=torch.float64, device=device).clone()
    if info.enabled:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.cpu().numpy()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def cleanup(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()
