"""Transform presets, in the manner of torchvision's references/classification/presets.py.

Both are built from a run's one ``Preprocessing`` (model/preprocessing.py): training adds the augmentation
recipe on top; validation, calibration, prediction, export checks, Grad-CAM and the doctor use the same
evaluation transform.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import v2

from flowerstudio.core.foundation.config import AugmentConfig
from flowerstudio.core.model.preprocessing import Preprocessing


def train_transform(pre: Preprocessing, aug: AugmentConfig) -> v2.Compose:
    """The tutorial's training pipeline; every step follows its switch in ``aug``."""
    # Geometry and colour run on the PIL image: Pillow's rotation and HSV code is several
    # times faster on CPU than the tensor kernels (benchmarks/README.md).
    input_size = pre.input_size
    steps: list = [v2.Resize(pre.resize, antialias=True)]
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
    steps.append(NormalizedTensor(pre.mean, pre.std))
    return v2.Compose(steps)


class NormalizedTensor(torch.nn.Module):
    """``PILToTensor``, ``ToDtype(float32, scale=True)`` and ``Normalize(mean, std)`` as one multiply-add
    per pixel: (x / 255 - mean) / std = x * 1 / (255 std) - mean / std. The three v2 steps cost 0.55 ms
    of the ~3 ms it takes to turn a 400x533 JPEG into the network's input on one core here, this one
    0.17 ms; results agree within 1e-6."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        mean, std = torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)
        self.scale = (1.0 / (255.0 * std)).view(-1, 1, 1)
        self.shift = (-mean / std).view(-1, 1, 1)

    def forward(self, img):
        if isinstance(img, Image.Image):
            # The pixels as (C, H, W) strides over Pillow's (H, W, C) bytes: one copy turns them into
            # contiguous floats. pil_to_tensor's uint8 reordering copy first took 0.25 of 0.41 ms.
            x = torch.from_numpy(np.array(img if img.mode == "RGB" else img.convert("RGB"))).permute(2, 0, 1)
        else:
            x = img
        if x.dtype != torch.uint8:  # a float tensor (never the app's own input) is already in [0, 1]
            return x.float() * (255.0 * self.scale) + self.shift
        return torch.empty(x.shape, dtype=torch.float32).copy_(x).mul_(self.scale).add_(self.shift)


class ResizeCenterCrop(torch.nn.Module):
    """``Resize(size)`` then ``CenterCrop(crop)`` in one resampling of only the pixels the crop keeps.

    Resizing the whole photo and then throwing its sides away took 1.9 ms of the 3.5 ms it takes to
    turn a 400x533 JPEG into the network's input on one core here; resizing only the kept part takes
    1.1 ms. Pillow's ``resize(box=...)`` places its filter exactly as the full resize does, so the
    result is the same to within 1/255 (rounding). Tensors (never the app's own input) take the two steps.
    """

    def __init__(self, size: int, crop: int) -> None:
        super().__init__()
        self.size, self.crop = size, crop

    def forward(self, img):
        if not isinstance(img, Image.Image):
            return v2.CenterCrop(self.crop)(v2.Resize(self.size, antialias=True)(img))
        w, h = img.size
        # torchvision's sizes: the short side becomes ``size``, the long one is truncated; the crop is centred, rounded.
        rw, rh = (self.size, int(self.size * h / w)) if w <= h else (int(self.size * w / h), self.size)
        left, top = int(round((rw - self.crop) / 2.0)), int(round((rh - self.crop) / 2.0))
        sx, sy = w / rw, h / rh
        box = (left * sx, top * sy, (left + self.crop) * sx, (top + self.crop) * sy)
        return img.resize((self.crop, self.crop), Image.Resampling.BILINEAR, box=box)


def eval_transform(pre: Preprocessing) -> v2.Compose:
    """Validation and prediction: resize, centre crop, normalise; no randomness."""
    return v2.Compose([ResizeCenterCrop(pre.resize, pre.input_size), NormalizedTensor(pre.mean, pre.std)])


# Steps that give the same pixels each time they see the same photo: a stage may keep their result between
# epochs (runtime/kept.py). NormalizedTensor is deterministic too but stays out: its float tensor is 4x the
# bytes of the picture, for a step that costs 0.17 ms.
_FIXED = (v2.Resize, v2.CenterCrop, ResizeCenterCrop)


def split_fixed(tf: v2.Compose) -> tuple[v2.Compose, v2.Compose]:
    """(``tf``'s leading steps that are the same every time, the rest): the rest after the fixed is ``tf``."""
    n = 0
    while n < len(tf.transforms) and isinstance(tf.transforms[n], _FIXED):
        n += 1
    return v2.Compose(tf.transforms[:n]), v2.Compose(tf.transforms[n:])


def denormalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Undo Normalize for display; returns values clamped to [0, 1]."""
    m = torch.tensor(mean, dtype=x.dtype).view(-1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype).view(-1, 1, 1)
    return (x * s + m).clamp(0, 1)


def recipe(pre: Preprocessing, aug: AugmentConfig) -> dict:
    """A plain description of the pipeline, used to key the feature cache."""
    # v3: ResizeCenterCrop (pixels within 1/255 of v2's), so features cached before are extracted again.
    # The keys and values are v3's (resize_ratio inside "aug" decides the resize): features cached by
    # earlier versions of the app stay valid.
    return {"aug": vars(aug), "input_size": pre.input_size, "mean": list(pre.mean), "std": list(pre.std), "v": 3}
