"""Training data: prepared datasets (or a weighted mixture of them) as a torch ``Dataset`` with
augmentation, a deterministic distributed mixture sampler, and the DataLoader.

Determinism: the augmentation of draw ``i`` in epoch ``e`` uses ``numpy.random.default_rng((seed, e,
i))``, so it does not depend on the worker that decodes it, on the number of processes, or on
whether the run was resumed — exact resume and DDP ≡ single-process both rely on this.

Augmentations (Eigen et al. 2014 Sec. 3.3, DenseDepth Sec. 3.4, Li et al. 2018): scale s ~ U[a, b]
(image and depth resized by s; metric depth divided by s, since a closer camera sees a larger image),
rotation r ~ U[−R, R] degrees (pixels rotated in from outside are invalid), random crop or resize to
``data.size``, horizontal flip, colour: per-channel gains c ~ U[a, b]^3, brightness/contrast jitter,
and a random permutation of the RGB channels (DenseDepth: probability 0.25).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from depthbench.data.dataset import load_dataset
from depthbench.errors import ConfigError, DataError
from depthbench.train.config import AugmentConfig, DataConfig, SourceConfig
from depthbench.types import DepthKind, Sample


@dataclass
class Frame:
    """The training view of a sample: RGB uint8 H×W×3, depth float32 H×W, valid bool H×W."""

    image: np.ndarray
    depth: np.ndarray
    valid: np.ndarray
    kind: DepthKind


def sample_to_frame(sample: Sample, kind: DepthKind | None, what: str) -> Frame:
    if sample.depth is None:
        raise DataError(f"{what}: sample {sample.meta.sample_id} has no dense depth (ordinal data cannot be trained on here)")
    depth = np.nan_to_num(sample.depth.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    valid = sample.valid if sample.valid is not None else depth > 0
    return Frame(sample.image, depth, valid & np.isfinite(sample.depth), kind or sample.kind)


class SourceData:
    """One prepared split, optionally decoded once into memory (``cache``)."""

    def __init__(self, cfg: SourceConfig) -> None:
        self.cfg = cfg
        self.dataset = load_dataset(cfg.dataset, cfg.split, cfg.root)
        self.what = f"{cfg.dataset}/{cfg.split}"
        self._cache: list[Frame] | None = None
        if cfg.cache:
            self._cache = [sample_to_frame(s, cfg.kind, self.what) for s in self.dataset]

    def __len__(self) -> int:
        return len(self.dataset)

    def frame(self, index: int) -> Frame:
        if self._cache is not None:
            return self._cache[index]
        return sample_to_frame(self.dataset[index], self.cfg.kind, self.what)


def _resize(frame: Frame, hw: tuple[int, int]) -> Frame:
    h, w = hw
    if frame.image.shape[:2] == (h, w):
        return frame
    image = cv2.resize(frame.image, (w, h), interpolation=cv2.INTER_LINEAR)
    depth = cv2.resize(frame.depth, (w, h), interpolation=cv2.INTER_NEAREST)
    valid = cv2.resize(frame.valid.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
    return Frame(image, depth, valid & (depth > 0), frame.kind)


def augment(frame: Frame, cfg: AugmentConfig, size: tuple[int, int], crop: bool, rng: np.random.Generator) -> Frame:
    """Apply ``cfg``'s augmentations (see the module docstring) and bring the frame to ``size``."""
    if cfg.scale is not None:
        s = float(rng.uniform(*cfg.scale))
        h, w = frame.image.shape[:2]
        frame = _resize(frame, (max(1, round(h * s)), max(1, round(w * s))))
        if frame.kind == DepthKind.METRIC:
            frame.depth = frame.depth / s
        elif frame.kind == DepthKind.DISPARITY:
            frame.depth = frame.depth * s
    if cfg.rotation_deg > 0:
        angle = float(rng.uniform(-cfg.rotation_deg, cfg.rotation_deg))
        h, w = frame.image.shape[:2]
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        image = cv2.warpAffine(frame.image, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        depth = cv2.warpAffine(frame.depth, m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0)
        valid = cv2.warpAffine(frame.valid.astype(np.uint8), m, (w, h), flags=cv2.INTER_NEAREST, borderValue=0) > 0
        frame = Frame(image, depth, valid & (depth > 0), frame.kind)
    th, tw = size
    if crop:
        h, w = frame.image.shape[:2]
        if h < th or w < tw:
            grow = max(th / h, tw / w)
            frame = _resize(frame, (math.ceil(h * grow), math.ceil(w * grow)))
            h, w = frame.image.shape[:2]
        y = int(rng.integers(0, h - th + 1))
        x = int(rng.integers(0, w - tw + 1))
        frame = Frame(frame.image[y : y + th, x : x + tw], frame.depth[y : y + th, x : x + tw],
                      frame.valid[y : y + th, x : x + tw], frame.kind)
    else:
        frame = _resize(frame, size)
    if cfg.flip > 0 and rng.random() < cfg.flip:
        frame = Frame(frame.image[:, ::-1], frame.depth[:, ::-1], frame.valid[:, ::-1], frame.kind)
    image = frame.image
    if cfg.color_scale is not None or cfg.brightness > 0 or cfg.contrast > 0:
        img = image.astype(np.float32)
        if cfg.color_scale is not None:
            img = img * rng.uniform(*cfg.color_scale, size=3).astype(np.float32)
        if cfg.brightness > 0:
            img = img * float(rng.uniform(1 - cfg.brightness, 1 + cfg.brightness))
        if cfg.contrast > 0:
            c = float(rng.uniform(1 - cfg.contrast, 1 + cfg.contrast))
            img = (img - img.mean()) * c + img.mean()
        image = np.clip(img + 0.5, 0, 255).astype(np.uint8)
    if cfg.channel_swap > 0 and rng.random() < cfg.channel_swap:
        image = image[..., rng.permutation(3)]
    return Frame(np.ascontiguousarray(image), np.ascontiguousarray(frame.depth),
                 np.ascontiguousarray(frame.valid), frame.kind)


class TrainDataset(Dataset):
    """Indexable by ``(epoch, draw, source, row)`` tuples produced by ``MixtureSampler``."""

    def __init__(self, cfg: DataConfig, seed: int) -> None:
        self.cfg = cfg
        self.seed = seed
        self.sources = [SourceData(s) for s in cfg.sources]
        for src in self.sources:
            if len(src) == 0:
                raise ConfigError(f"data.sources: {src.what} is empty")

    def __len__(self) -> int:
        return sum(len(s) for s in self.sources)

    def __getitem__(self, key: tuple[int, int, int, int]) -> dict[str, Any]:
        epoch, draw, source, row = key
        rng = np.random.default_rng((self.seed, epoch, draw))
        frame = augment(self.sources[source].frame(row), self.cfg.augment, self.cfg.size, self.cfg.crop, rng)
        return {
            "image": torch.from_numpy(frame.image).permute(2, 0, 1).contiguous(),
            "depth": torch.from_numpy(frame.depth.astype(np.float32)),
            "valid": torch.from_numpy(frame.valid.astype(bool)),
            "is_uts": torch.tensor(frame.kind == DepthKind.UTS),
            "source": torch.tensor(source),
        }


class MixtureSampler(Sampler):
    """Per epoch, ``samples_per_epoch`` draws: source ~ Categorical(weights), row uniform without
    replacement within the source (a fresh permutation per pass), from ``default_rng((seed, epoch))``;
    then, as ``DistributedSampler`` does, rank r takes draws r, r + W, r + 2W, … (the list is first
    trimmed to a multiple of ``world_size · batch_size`` so every rank runs the same number of steps).
    With one source of weight 1 this is a seeded random permutation of the split."""

    def __init__(self, sizes: Sequence[int], weights: Sequence[float], samples_per_epoch: int, seed: int,
                 rank: int = 0, world_size: int = 1, batch_size: int = 1) -> None:
        self.sizes = list(sizes)
        w = np.asarray(weights, dtype=np.float64)
        self.probs = w / w.sum()
        self.seed, self.rank, self.world = seed, rank, world_size
        per = world_size * batch_size
        self.total = (samples_per_epoch // per) * per
        if self.total == 0:
            raise ConfigError(f"batch_size × processes = {per} exceeds the {samples_per_epoch} samples of an epoch")
        self.epoch = 0
        self.skip = 0  # draws of this rank to skip in the current epoch (exact resume mid-epoch)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def draws(self, epoch: int) -> list[tuple[int, int, int, int]]:
        rng = np.random.default_rng((self.seed, epoch))
        sources = rng.choice(len(self.sizes), size=self.total, p=self.probs) if len(self.sizes) > 1 else np.zeros(self.total, dtype=np.int64)
        perms = [rng.permutation(n) for n in self.sizes]
        cursor = [0] * len(self.sizes)
        out = []
        for draw, src in enumerate(sources.tolist()):
            if cursor[src] == self.sizes[src]:
                perms[src] = rng.permutation(self.sizes[src])
                cursor[src] = 0
            out.append((epoch, draw, src, int(perms[src][cursor[src]])))
            cursor[src] += 1
        return out

    def __iter__(self) -> Iterator[tuple[int, int, int, int]]:
        return iter(self.draws(self.epoch)[self.rank :: self.world][self.skip :])

    def __len__(self) -> int:
        return self.total // self.world - self.skip


def _seed_worker(worker_id: int) -> None:
    # augmentation randomness is keyed per draw; this only pins torch/numpy globals in workers
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    cv2.setNumThreads(1)


def build_loader(cfg: DataConfig, seed: int, batch_size: int, rank: int = 0, world_size: int = 1,
                 device: torch.device | None = None) -> tuple[DataLoader, MixtureSampler]:
    """DataLoader over the mixture: ``batch_size`` per process, workers + pinned memory on CUDA."""
    dataset = TrainDataset(cfg, seed)
    per_epoch = cfg.samples_per_epoch or len(dataset)
    sampler = MixtureSampler([len(s) for s in dataset.sources], [s.weight for s in cfg.sources],
                             per_epoch, seed, rank, world_size, batch_size)
    loader = DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=cfg.num_workers,
        pin_memory=cfg.pin_memory and device is not None and device.type == "cuda",
        drop_last=True,
        worker_init_fn=_seed_worker,
        persistent_workers=cfg.num_workers > 0,
        prefetch_factor=4 if cfg.num_workers > 0 else None,
    )
    return loader, sampler
