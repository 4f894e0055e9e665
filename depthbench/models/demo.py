"""The shipped demo model: ``lrn-mobilenetv2-synthetic``.

Seed 004's LRN decoder on MobileNetV2 (``depthbench.models.lrn``), trained from random initialisation
on the built-in ``synthetic-rooms`` train split by ``depthbench train --recipe lrn-synthetic-demo``
(scale-invariant pairwise L1 + L1 on log depth, so its output is metric). The checkpoint (fp16
tensors, loaded into fp32 parameters) lives in ``weights/lrn-mobilenetv2-synthetic/`` inside the
package; how it was trained and its test-split numbers: benchmarks/results/train_demo.md.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from torch import nn

from depthbench.models import register_model

WEIGHTS_DIR = Path(__file__).with_name("weights") / "lrn-mobilenetv2-synthetic"


@register_model("lrn-mobilenetv2-synthetic", aliases=("demo",))
def lrn_mobilenetv2_synthetic(**options: Any) -> nn.Module:
    """LRN-MobileNetV2 trained on synthetic-rooms (metric depth); options go to the LRN factory."""
    from depthbench.models.adapters import load_checkpoint_model

    model = load_checkpoint_model(WEIGHTS_DIR, **options).float()
    model.info = dataclasses.replace(model.info, name="lrn-mobilenetv2-synthetic")
    return model
