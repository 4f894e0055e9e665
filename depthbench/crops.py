"""Named evaluation crops, each defined once.

A crop is a half-open box (top, bottom, left, right) in pixels of the ground-truth image; pixels
outside it are excluded from every metric.

- ``nyu-eigen``: rows 45..470, cols 41..600 inclusive (``[45:471, 41:601]``) of the 480×640 NYU
  image: the valid area of the Kinect projection used by Eigen et al. 2014 and every later NYU
  paper (e.g. BTS, AdaBins evaluation code; DESIGN.md §4).
- ``densedepth``: rows 20..459, cols 24..615 inclusive (``[20:460, 24:616]``) of 480×640, the crop
  of Alhashim & Wonka 2018 (seed 000) evaluation.
- ``kitti-garg``: rows [0.40810811·H, 0.99189189·H), cols [0.03594771·W, 0.96405229·W), truncated
  to int, from Garg et al. 2016 as used by monodepth/monodepth2.
- ``kitti-eigen``: rows [0.3324324·H, 0.91351351·H), same cols (Eigen et al. 2014 KITTI crop).
- ``none``: the whole image.
"""

from __future__ import annotations

import numpy as np

from depthbench.errors import UsageError

# Absolute crops: (reference (H, W), (top, bottom, left, right)) with bottom/right exclusive.
_ABSOLUTE_CROPS: dict[str, tuple[tuple[int, int], tuple[int, int, int, int]]] = {
    "nyu-eigen": ((480, 640), (45, 471, 41, 601)),
    "densedepth": ((480, 640), (20, 460, 24, 616)),
}
# Fractional crops: (top, bottom, left, right) as fractions of (H, H, W, W), truncated to int.
_FRACTIONAL_CROPS: dict[str, tuple[float, float, float, float]] = {
    "kitti-garg": (0.40810811, 0.99189189, 0.03594771, 0.96405229),
    "kitti-eigen": (0.3324324, 0.91351351, 0.03594771, 0.96405229),
}

CROP_NAMES: tuple[str, ...] = ("none", *_ABSOLUTE_CROPS, *_FRACTIONAL_CROPS)


def crop_box(name: str, height: int, width: int) -> tuple[int, int, int, int]:
    """Return (top, bottom, left, right), bottom/right exclusive, of crop ``name`` for an H×W image."""
    if name == "none":
        return (0, height, 0, width)
    if name in _ABSOLUTE_CROPS:
        ref, box = _ABSOLUTE_CROPS[name]
        if (height, width) != ref:
            raise UsageError(
                f"crop {name!r} is defined on {ref[0]}×{ref[1]} ground truth, got {height}×{width}; "
                "evaluate at the dataset's native resolution or choose crop 'none'"
            )
        return box
    if name in _FRACTIONAL_CROPS:
        t, b, l, r = _FRACTIONAL_CROPS[name]
        # int() truncation as in the reference implementations (np.array(...).astype(np.int32)).
        return (int(t * height), int(b * height), int(l * width), int(r * width))
    raise UsageError(f"unknown crop {name!r}; expected one of {', '.join(CROP_NAMES)}")


def crop_mask(name: str, height: int, width: int) -> np.ndarray:
    """Boolean H×W mask that is True inside crop ``name``."""
    top, bottom, left, right = crop_box(name, height, width)
    mask = np.zeros((height, width), dtype=bool)
    mask[top:bottom, left:right] = True
    return mask
