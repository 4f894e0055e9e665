"""Training: ``depthbench train --recipe NAME | --config FILE [--set key=value ...]``.

config.py (typed recipe), data.py (datasets, mixtures, augmentation), optim.py (Adam/SGD/Ranger,
schedules), loop.py (AMP, accumulation, validation, logs), distributed.py (torchrun DDP),
checkpoint.py (safetensors + JSON, exact resume, ``ckpt:`` export). Shipped recipes: recipes/*.yaml.
"""

from depthbench.train.config import TrainConfig, list_recipes, load_config

__all__ = ["TrainConfig", "list_recipes", "load_config", "train"]


def train(*args, **kwargs):  # type: ignore[no-untyped-def]
    """``depthbench.train.loop.train`` (imported lazily: torch is heavy)."""
    from depthbench.train.loop import train as run

    return run(*args, **kwargs)
