"""Losses of Li, Klein, Yao (seeds 001/002/003): the set loss over an image set, its gradient
variant, the two-stream combination loss and the multinomial logistic (classification) loss.

Set loss (seeds 001/002). For an image I the set S = {I, flip(I), colour(I)} is passed through the
network and every prediction is realigned to I's frame by the inverse transform (flip back; for
x-gradients flipping back also negates the values, since ∇x of a mirrored map is the mirrored −∇x).
With P_k the realigned predictions and Y the target on the output grid,

    L = L_single + λ·L_set,   λ = 1
    L_single = (1/|S|) Σ_k  mean_valid h(P_k − Y)
    L_set    = mean over pairs k < l of  mean h(P_k − P_l)

where predictions and targets are log depth (depth networks) or [−1, 0, 1] gradients of linear
depth (gradient networks, targets from ``depthbench.prep.gradient_fusion.depth_gradients``), and
h(r) = r² except during the first ``clip_steps`` = 20 000 training steps, where the difference is
clipped to [−c, c] = [−0.1, 0.1] in the gradient: h(r) = r² for |r| ≤ c, 2c|r| − c² beyond, so
∂h/∂r = 2·clip(r, −c, c).

colour(I): per image, contrast c ∈ [0.8, 1.2] around the image mean, brightness shift
b ∈ [−0.1, 0.1] (depthbench's ranges for the seeds' "brightness/contrast change"), then per-channel
RGB multiplication γ ∈ [0.8, 1.2]³; clipped to [0, 1]. Images are RGB in [0, 1]; the model's own
``normalize`` is applied before its forward.

Combination loss (seed 001, end-to-end fusion): L_comb = L(final log depth) + mean ‖∇exp(D) − G_est‖²
with D the final log depth and G_est the gradient stream's output (both in the model's raw output).

Classification loss (seed 003): multinomial logistic loss = cross entropy between bin logits and the
log-space bin labels of ``depthbench.prep.quantize`` (ignore index −1).

Registration. The per-batch pieces have the ``LOSSES`` signature ``loss(pred, target, mask, **options)``
and are registered there: ``li-log-depth`` (pred log depth B×H×W), ``li-depth-gradient`` (pred
B×2×H×W x/y gradients), ``li-classification`` (pred B×K×H×W logits); ``target`` is depth in metres.
The set and combination losses must run the model on the transformed images, so they are objects
called as ``loss(model, images, gt_depth, valid, step)``; ``LI_MODEL_LOSSES`` names their factories.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from depthbench.errors import UsageError
from depthbench.losses import register_loss
from depthbench.prep.gradient_fusion import depth_gradients
from depthbench.prep.quantize import IGNORE_INDEX, LogBins, depth_to_labels

DIFF_CLIP = 0.1
CLIP_STEPS = 20_000
SET_LAMBDA = 1.0
TRANSFORMS = ("flip", "colour")


def clipped_square(r: torch.Tensor, step: int, clip: float = DIFF_CLIP, clip_steps: int = CLIP_STEPS) -> torch.Tensor:
    """h(r) of the module docstring: r², with the difference clipped to [−clip, clip] in the
    gradient while ``step < clip_steps``."""
    if step >= clip_steps:
        return r * r
    a = r.abs()
    return torch.where(a <= clip, r * r, 2 * clip * a - clip * clip)


def masked_mean(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``x`` over ``mask`` (all entries when None); 0 (keeping the graph) when empty."""
    if mask is None:
        return x.mean()
    mask = mask.expand_as(x)
    n = mask.sum()
    return torch.where(mask, x, torch.zeros_like(x)).sum() / n.clamp(min=1)


def resize_target(depth: torch.Tensor, valid: torch.Tensor | None, size: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Ground-truth depth B×H×W (or B×1×H×W) and its mask → B×1×h×w by nearest neighbour (never
    blends valid with invalid depth). ``valid`` defaults to finite and > 0."""
    if depth.ndim == 3:
        depth = depth[:, None]
    if valid is None:
        valid = torch.isfinite(depth) & (depth > 0)
    elif valid.ndim == 3:
        valid = valid[:, None]
    depth = torch.where(valid.bool(), depth, torch.zeros_like(depth)).float()
    if tuple(depth.shape[-2:]) != tuple(size):
        depth = F.interpolate(depth, size=size, mode="nearest")
        valid = F.interpolate(valid.float(), size=size, mode="nearest") > 0.5
    return depth, valid.bool() & (depth > 0)


@dataclass(frozen=True)
class ImageTransform:
    """One member of the image set: ``apply`` to RGB [0, 1] images, ``realign`` outputs back to the
    original frame. ``grad_x_channels``: output channels holding x-gradients (negated by a flip)."""

    name: str
    contrast: torch.Tensor | None = None  # B
    brightness: torch.Tensor | None = None  # B
    gamma: torch.Tensor | None = None  # B×3

    def apply(self, images: torch.Tensor) -> torch.Tensor:
        if self.name == "identity":
            return images
        if self.name == "flip":
            return images.flip(-1)
        assert self.contrast is not None and self.brightness is not None and self.gamma is not None
        mean = images.mean(dim=(1, 2, 3), keepdim=True)
        c = self.contrast.view(-1, 1, 1, 1)
        b = self.brightness.view(-1, 1, 1, 1)
        out = ((images - mean) * c + mean + b) * self.gamma.view(-1, 3, 1, 1)
        return out.clamp(0.0, 1.0)

    def realign(self, output: torch.Tensor, grad_x_channels: Sequence[int] = ()) -> torch.Tensor:
        if self.name != "flip":
            return output
        out = output.flip(-1)
        if grad_x_channels:
            sign = torch.ones(out.shape[1], device=out.device, dtype=out.dtype)
            sign[list(grad_x_channels)] = -1.0
            out = out * sign.view(1, -1, 1, 1)
        return out


def make_image_set(
    batch_size: int, transforms: Sequence[str] = TRANSFORMS, generator: torch.Generator | None = None
) -> list[ImageTransform]:
    """The image set: identity plus ``transforms`` (``flip``, ``colour``), colour parameters drawn
    per image from the ranges of the module docstring."""
    out = [ImageTransform("identity")]
    for name in transforms:
        if name == "flip":
            out.append(ImageTransform("flip"))
        elif name == "colour":
            u = torch.rand(batch_size, 5, generator=generator)
            out.append(
                ImageTransform("colour", contrast=0.8 + 0.4 * u[:, 0], brightness=-0.1 + 0.2 * u[:, 1], gamma=0.8 + 0.4 * u[:, 2:])
            )
        else:
            raise UsageError(f"set-loss transform {name!r}: expected 'flip' or 'colour'")
    return out


def realigned_outputs(
    model: torch.nn.Module,
    images: torch.Tensor,
    image_set: Sequence[ImageTransform],
    grad_x_channels: Sequence[int] = (),
) -> list[torch.Tensor]:
    """Raw outputs of ``model`` for every member of the set, realigned to the original frame.
    The set runs as one batch (|S|·B images)."""
    b = images.shape[0]
    batch = torch.cat([t.apply(images) for t in image_set], dim=0)
    raw = model(model.normalize(batch))
    return [t.realign(raw[i * b : (i + 1) * b], grad_x_channels) for i, t in enumerate(image_set)]


def set_consistency(outputs: Sequence[torch.Tensor], step: int, clip: float = DIFF_CLIP, clip_steps: int = CLIP_STEPS) -> torch.Tensor:
    """L_set: mean over pairs k < l of mean h(P_k − P_l)."""
    pairs = list(itertools.combinations(range(len(outputs)), 2))
    if not pairs:
        return outputs[0].sum() * 0
    terms = [clipped_square(outputs[k] - outputs[l], step, clip, clip_steps).mean() for k, l in pairs]
    return torch.stack(terms).mean()


class LiSetLoss:
    """L = L_single + λ·L_set (module docstring).

    ``target``: ``"log_depth"`` (prediction = log depth) or ``"gradients"`` (prediction = x/y
    linear-depth gradients). ``channels``: which raw-output channels are the prediction (default
    0 for log depth, 0–1 for gradients). Call with the model, RGB [0, 1] images B×3×H×W, ground-truth
    depth B×H×W (any resolution; resized to the output grid by nearest neighbour), optional valid
    mask and the training ``step``. Returns ``{"loss", "single", "set"}``.
    """

    def __init__(
        self,
        target: str = "log_depth",
        lam: float = SET_LAMBDA,
        transforms: Sequence[str] = TRANSFORMS,
        channels: Sequence[int] | None = None,
        clip: float = DIFF_CLIP,
        clip_steps: int = CLIP_STEPS,
    ) -> None:
        if target not in ("log_depth", "gradients"):
            raise UsageError(f"target={target!r}: expected 'log_depth' or 'gradients'")
        self.target = target
        self.lam = lam
        self.transforms = tuple(transforms)
        self.channels = list(channels) if channels is not None else ([0] if target == "log_depth" else [0, 1])
        if len(self.channels) != (1 if target == "log_depth" else 2):
            raise UsageError(f"channels={self.channels}: {target} needs {1 if target == 'log_depth' else 2} channel(s)")
        self.clip = clip
        self.clip_steps = clip_steps

    def grad_x_channels(self) -> list[int]:
        return [self.channels[0]] if self.target == "gradients" else []

    def from_predictions(
        self, predictions: Sequence[torch.Tensor], gt_depth: torch.Tensor, valid: torch.Tensor | None, step: int
    ) -> dict[str, torch.Tensor]:
        """The loss from already realigned predictions (each B×C×h×w, C = 1 or 2)."""
        single_loss = li_log_depth_loss if self.target == "log_depth" else li_depth_gradient_loss
        device = predictions[0].device
        gt_depth = gt_depth.to(device)
        valid = None if valid is None else valid.to(device)
        single = torch.stack(
            [single_loss(p, gt_depth, valid, step, self.clip, self.clip_steps) for p in predictions]
        ).mean()
        consistency = set_consistency(predictions, step, self.clip, self.clip_steps)
        return {"loss": single + self.lam * consistency, "single": single, "set": consistency}

    def __call__(
        self,
        model: torch.nn.Module,
        images: torch.Tensor,
        gt_depth: torch.Tensor,
        valid: torch.Tensor | None = None,
        step: int = 0,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        image_set = make_image_set(images.shape[0], self.transforms, generator)
        outputs = realigned_outputs(model, images, image_set, self.grad_x_channels())
        return self.from_predictions([o[:, self.channels] for o in outputs], gt_depth, valid, step)


class LiCombinationLoss:
    """Two-stream end-to-end fusion loss: L_comb = L(final log depth) + mean ‖∇exp(D) − G_est‖².

    Raw output layout of ``li2017-twostream-*``: channel ``final_channel`` (0) is the final log
    depth D, ``gradient_channels`` (2, 3) the gradient stream's (Gx, Gy). The gradient term averages
    over interior pixels of every output of the set.
    """

    def __init__(
        self,
        lam: float = SET_LAMBDA,
        transforms: Sequence[str] = TRANSFORMS,
        final_channel: int = 0,
        gradient_channels: tuple[int, int] = (2, 3),
        clip: float = DIFF_CLIP,
        clip_steps: int = CLIP_STEPS,
    ) -> None:
        self.set_loss = LiSetLoss("log_depth", lam, transforms, [final_channel], clip, clip_steps)
        self.final_channel = final_channel
        self.gradient_channels = list(gradient_channels)

    def __call__(
        self,
        model: torch.nn.Module,
        images: torch.Tensor,
        gt_depth: torch.Tensor,
        valid: torch.Tensor | None = None,
        step: int = 0,
        generator: torch.Generator | None = None,
    ) -> dict[str, torch.Tensor]:
        image_set = make_image_set(images.shape[0], self.set_loss.transforms, generator)
        outputs = realigned_outputs(model, images, image_set, [self.gradient_channels[0]])
        parts = self.set_loss.from_predictions([o[:, [self.final_channel]] for o in outputs], gt_depth, valid, step)
        terms = []
        for o in outputs:
            grad, grad_valid = depth_gradients(torch.exp(o[:, [self.final_channel]]), torch.ones_like(o[:, :1], dtype=torch.bool))
            terms.append(masked_mean((grad - o[:, self.gradient_channels]) ** 2, grad_valid))
        consistency = torch.stack(terms).mean()
        return {**parts, "loss": parts["loss"] + consistency, "gradient_consistency": consistency}


def classification_loss(
    logits: torch.Tensor, gt_depth: torch.Tensor, bins: LogBins, valid: torch.Tensor | None = None
) -> torch.Tensor:
    """Multinomial logistic loss (seed 003): cross entropy of B×K×h×w logits against the log-space
    bin labels of ``gt_depth`` (resized to h×w by nearest neighbour; invalid → ignore index −1).
    Returns 0 (keeping the graph) when no pixel is valid."""
    if logits.shape[1] != bins.num_bins:
        raise UsageError(f"logits: {logits.shape[1]} channels, expected {bins.num_bins} bins")
    depth, mask = resize_target(gt_depth.to(logits.device), None if valid is None else valid.to(logits.device), tuple(logits.shape[-2:]))
    labels = depth_to_labels(depth[:, 0], bins, mask[:, 0])
    if not (labels != IGNORE_INDEX).any():
        return logits.sum() * 0
    return F.cross_entropy(logits, labels, ignore_index=IGNORE_INDEX)


class LiClassificationLoss:
    """``classification_loss`` bound to a bin layout (model(normalised images) gives the logits)."""

    def __init__(self, num_bins: int = 200, d_min: float = 0.5, d_max: float = 10.0) -> None:
        self.bins = LogBins(num_bins, d_min, d_max)

    def __call__(
        self, model: torch.nn.Module, images: torch.Tensor, gt_depth: torch.Tensor, valid: torch.Tensor | None = None, step: int = 0
    ) -> dict[str, torch.Tensor]:
        loss = classification_loss(model(model.normalize(images)), gt_depth, self.bins, valid)
        return {"loss": loss}


def _with_step(step: int | None, clip_steps: int) -> tuple[int, int]:
    """``step=None`` (a trainer that does not count steps) means no clipping."""
    return (0, 0) if step is None else (step, clip_steps)


@register_loss("li-log-depth")
def li_log_depth_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    step: int | None = None,
    clip: float = DIFF_CLIP,
    clip_steps: int = CLIP_STEPS,
) -> torch.Tensor:
    """Single-image loss of seeds 001/002: mean over valid pixels of h(pred − log target), pred = log
    depth B×H×W, target = depth (m, resized to pred's grid by nearest neighbour). h clips the
    difference to [−0.1, 0.1] in the gradient while ``step < clip_steps`` (no clipping when
    ``step`` is None)."""
    if pred.ndim == 4:
        pred = pred[:, 0]
    depth, valid = resize_target(target, mask, tuple(pred.shape[-2:]))
    log_target = torch.log(torch.where(valid, depth, torch.ones_like(depth)))[:, 0]
    step, clip_steps = _with_step(step, clip_steps)
    return masked_mean(clipped_square(pred - log_target, step, clip, clip_steps), valid[:, 0])


@register_loss("li-depth-gradient")
def li_depth_gradient_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    step: int | None = None,
    clip: float = DIFF_CLIP,
    clip_steps: int = CLIP_STEPS,
) -> torch.Tensor:
    """Gradient-network loss of seeds 001/002: mean over valid gradient entries of h(pred − ∇target),
    pred = B×2×H×W x/y gradients, ∇ = [−1, 0, 1] filters on linear depth at pred's grid."""
    if pred.ndim != 4 or pred.shape[1] != 2:
        raise UsageError(f"li-depth-gradient: pred must be B×2×H×W (x/y gradients), got {tuple(pred.shape)}")
    depth, valid = resize_target(target, mask, tuple(pred.shape[-2:]))
    grad, grad_valid = depth_gradients(depth, valid)
    step, clip_steps = _with_step(step, clip_steps)
    return masked_mean(clipped_square(pred - grad, step, clip, clip_steps), grad_valid)


@register_loss("li-classification")
def li_classification_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor | None = None,
    num_bins: int = 200,
    d_min: float = 0.5,
    d_max: float = 10.0,
) -> torch.Tensor:
    """Multinomial logistic loss of seed 003 on B×K×H×W logits (``classification_loss``)."""
    return classification_loss(pred, target, LogBins(num_bins, d_min, d_max), mask)


def li_set_gradient_loss(**options: object) -> LiSetLoss:
    """The set loss on x/y depth gradients (gradient networks)."""
    return LiSetLoss(target="gradients", **options)  # type: ignore[arg-type]


LI_MODEL_LOSSES = {
    "li-set-log-depth": LiSetLoss,
    "li-set-gradients": li_set_gradient_loss,
    "li-combination": LiCombinationLoss,
    "li-classification": LiClassificationLoss,
}
