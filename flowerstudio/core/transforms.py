"""Transform presets, in the manner of torchvision's references/classification/presets.py."""
from __future__ import annotations

from typing import Sequence

import torch
from torchvision.transforms import v2

from flowerstudio.core.config import AugmentConfig


def resize_size(input_size: int, aug: AugmentConfig | None = None) -> int:
    """The short-side size images are resized to before cropping to ``input_size``."""
    ratio = (aug or AugmentConfig()).resize_ratio
    return max(input_size, round(input_size * ratio))


def build_train_transform(
    aug: AugmentConfig, input_size: int, mean: Sequence[float], std: Sequence[float]
) -> v2.Compose:
    """The tutorial's training pipeline; every step follows its switch in ``aug``."""
    # Geometry and colour run on the PIL image: Pillow's rotation and HSV code is several
    # times faster on CPU than the tensor kernels (benchmarks/README.md).
    steps: list = [v2.Resize(resize_size(input_size, aug), antialias=True)]
    if aug.rotation and aug.rotation_degrees > 0:
        steps.append(v2.RandomRotation(aug.rotation_degrees))
    steps.append(v2.RandomCrop(input_size) if aug.random_crop else v2.CenterCrop(input_size))
    if aug.hflip and aug.hflip_p > 0:
        steps.append(v2.RandomHorizontalFlip(aug.hflip_p))
    if aug.vflip and aug.vflip_p > 0:
        steps.append(v2.RandomVerticalFlip(aug.vflip_p))
    if aug.color_jitter:
        steps.append(v2.ColorJitter(aug.brightness, aug.contrast, aug.saturation, aug.hue))
    if aug.grayscale and aug.grayscale_p > 0:
        steps.append(v2.RandomGrayscale(aug.grayscale_p))
    steps += [v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))]
    return v2.Compose(steps)


def build_eval_transform(
    input_size: int, mean: Sequence[float], std: Sequence[float], aug: AugmentConfig | None = None
) -> v2.Compose:
    """Validation and prediction: resize, centre crop, normalise; no randomness."""
    return v2.Compose(
        [
            v2.Resize(resize_size(input_size, aug), antialias=True),
            v2.CenterCrop(input_size),
            v2.PILToTensor(),
            v2.ToDtype(torch.float32, scale=True),
            v2.Normalize(list(mean), list(std)),
        ]
    )


def denormalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Undo Normalize for display; returns values clamped to [0, 1]."""
    m = torch.tensor(mean, dtype=x.dtype).view(-1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(-1, 1, 1)
    return (x * s + m).clamp(0, 1)


def recipe(aug: AugmentConfig, input_size: int, mean: Sequence[float], std: Sequence[float]) -> dict:
    """A plain description of the pipeline, used to key the feature cache."""
    return {"aug": vars(aug), "input_size": input_size, "mean": list(mean), "std": list(std), "v": 2}
