"""How a photo becomes the network's input: decided once per run, stored in every model file it writes.

Training's validation pass, the temperature fit, both predictors, export, Grad-CAM and the doctor all
build their transforms from one ``Preprocessing`` (runtime/transforms.py), so a model never sees a photo
one way when it is judged and another when it is used. Plain data (no torch), in the manner of timm's
``resolve_data_config``: the one place the numbers are decided is ``for_run``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from flowerstudio.core.foundation.config import AugmentConfig, TrainConfig
from flowerstudio.core.model.backbones import get_spec


def resize_for(input_size: int, resize_ratio: float) -> int:
    """The short side a photo is resized to before its centre ``input_size`` square is cropped."""
    return max(input_size, round(input_size * resize_ratio))


@dataclass(frozen=True)
class Preprocessing:
    """Resize the short side to ``resize`` px, crop the centre ``input_size`` square, normalise each
    channel with ``mean`` and ``std`` (the backbone's pretraining statistics)."""

    input_size: int
    resize: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]

    @classmethod
    def for_run(cls, config: TrainConfig) -> "Preprocessing":
        """The preprocessing of a training run: its backbone's statistics, its input size and resize ratio."""
        spec = get_spec(config.backbone)
        return cls(config.input_size, resize_for(config.input_size, config.augment.resize_ratio),
                   tuple(spec.mean), tuple(spec.std))

    @classmethod
    def of(cls, input_size: int, mean: Sequence[float], std: Sequence[float], resize: int = 0) -> "Preprocessing":
        """From plain numbers; ``resize`` 0: the default ratio (256 for 224)."""
        return cls(input_size, resize or resize_for(input_size, AugmentConfig().resize_ratio),
                   tuple(float(m) for m in mean), tuple(float(s) for s in std))

    @classmethod
    def of_model(cls, input_size: int, mean: Sequence[float], std: Sequence[float], resize: int,
                 config: Mapping[str, Any]) -> "Preprocessing":
        """A model file's: its own ``resize``; a file written before it was stored gets the ratio of the
        config it was trained with (its ``augment.resize_ratio``), else the default."""
        if not resize:
            ratio = (config.get("augment") or {}).get("resize_ratio") if isinstance(config, Mapping) else None
            ok = isinstance(ratio, (int, float)) and not isinstance(ratio, bool) and 1 <= ratio <= 4
            resize = resize_for(input_size, float(ratio) if ok else AugmentConfig().resize_ratio)
        return cls.of(input_size, mean, std, resize)

    def describe(self) -> str:
        """For people reading an export's sidecar: the steps in words."""
        return (f"resize the short side to {self.resize} px (Pillow bilinear with antialiasing), keeping the "
                f"aspect ratio; crop the centre {self.input_size}x{self.input_size}; RGB; scale to [0, 1]; "
                f"subtract mean {list(self.mean)} and divide by std {list(self.std)} per channel")
