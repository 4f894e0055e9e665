"""Core types shared by every part of depthbench (DESIGN.md §2).

Conventions: images are uint8 H×W×3 RGB; dense depth is float32 H×W in metres (or the unit of the
declared ``DepthKind``) with 0 or NaN meaning invalid and an explicit ``valid`` mask; ordinal targets
are int32 N×5 arrays of (ya, xa, yb, xb, rel) with rel = +1 when point A is farther than point B
(DIW's convention, see metrics), −1 otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from enum import Enum
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # torch is imported lazily so that `depthbench list` stays fast
    import torch


class DepthKind(str, Enum):
    """What a depth map means, and so how it must be aligned before it is compared.

    - ``metric``: absolute depth in metres.
    - ``uts``: depth up to an unknown positive scale (seed 004, "unknown translation scale").
    - ``utss``: inverse depth up to an unknown scale and shift (affine-invariant disparity, MiDaS).
    - ``disparity``: metric inverse depth, 1/metres.
    - ``ordinal``: only point-pair relations are known (DIW).
    """

    METRIC = "metric"
    UTS = "uts"
    UTSS = "utss"
    DISPARITY = "disparity"
    ORDINAL = "ordinal"

    @property
    def is_inverse(self) -> bool:
        """True when larger values mean closer (disparity-like outputs)."""
        return self in (DepthKind.UTSS, DepthKind.DISPARITY)


@dataclass(frozen=True)
class Intrinsics:
    """Pinhole intrinsics in pixels of the image they belong to (x right, y down)."""

    fx: float
    fy: float
    cx: float
    cy: float

    def scaled(self, scale_y: float, scale_x: float) -> Intrinsics:
        """Intrinsics after resizing the image by (scale_y, scale_x), pixel-centre convention
        (align_corners=False): c' = (c + 0.5)·s − 0.5."""
        return Intrinsics(
            fx=self.fx * scale_x,
            fy=self.fy * scale_y,
            cx=(self.cx + 0.5) * scale_x - 0.5,
            cy=(self.cy + 0.5) * scale_y - 0.5,
        )

    def cropped(self, top: int, left: int) -> Intrinsics:
        return Intrinsics(self.fx, self.fy, self.cx - left, self.cy - top)

    def as_matrix(self) -> np.ndarray:
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.fx, self.fy, self.cx, self.cy)


@dataclass(frozen=True)
class SampleMeta:
    """Where a sample comes from. ``sample_id`` is unique within a prepared dataset."""

    dataset: str
    split: str
    sample_id: str
    scene_id: str = ""
    frame_id: str = ""
    source_sha256: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Sample:
    """One frame: an RGB image and exactly one target (dense depth or ordinal pairs)."""

    image: np.ndarray
    kind: DepthKind
    meta: SampleMeta
    depth: np.ndarray | None = None
    valid: np.ndarray | None = None
    ordinal_pairs: np.ndarray | None = None
    intrinsics: Intrinsics | None = None

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(
                f"sample {self.meta.sample_id!r}: image must be uint8 H×W×3, got {self.image.dtype} {self.image.shape}"
            )
        if (self.depth is None) == (self.ordinal_pairs is None):
            raise ValueError(f"sample {self.meta.sample_id!r}: needs exactly one of depth or ordinal_pairs")
        if self.depth is not None:
            if self.depth.shape != self.image.shape[:2]:
                raise ValueError(
                    f"sample {self.meta.sample_id!r}: depth shape {self.depth.shape} != image shape {self.image.shape[:2]}"
                )
            self.depth = np.asarray(self.depth, dtype=np.float32)
            if self.valid is None:
                self.valid = np.isfinite(self.depth) & (self.depth > 0)
            self.valid = np.asarray(self.valid, dtype=bool)
        if self.ordinal_pairs is not None:
            pairs = np.asarray(self.ordinal_pairs, dtype=np.int32)
            if pairs.ndim != 2 or pairs.shape[1] != 5:
                raise ValueError(f"sample {self.meta.sample_id!r}: ordinal_pairs must be N×5 (ya, xa, yb, xb, rel)")
            self.ordinal_pairs = pairs

    @property
    def hw(self) -> tuple[int, int]:
        return (int(self.image.shape[0]), int(self.image.shape[1]))

    def with_(self, **changes: Any) -> Sample:
        return replace(self, **changes)


@dataclass
class Prediction:
    """A model's output: ``depth`` B×H×W (torch tensor or numpy array) and its declared kind.

    The value means what ``kind`` says (metres for ``metric``, inverse depth up to scale and shift
    for ``utss`` ...). The evaluation protocol decides how to align it; nothing is guessed.
    """

    depth: torch.Tensor | np.ndarray
    kind: DepthKind

    def __post_init__(self) -> None:
        self.kind = DepthKind(self.kind)
        if self.depth.ndim == 2:
            self.depth = self.depth[None]
        if self.depth.ndim != 3:
            raise ValueError(f"prediction must be B×H×W, got shape {tuple(self.depth.shape)}")
