"""The one training configuration, shared by the CLI and the GUI and saved beside each run."""
from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Optional

from flowerstudio.core.foundation.errors import UserError
from flowerstudio.core.foundation.vocab import InferenceEngine, Optimizer, TrainMode, is_device

# Fields that hold a vocabulary word: a config file holds the plain word, the object the enum.
_WORDS = {"train_mode": TrainMode, "optimizer": Optimizer, "inference_engine": InferenceEngine}

# How long a stage trains when the config does not say (epochs None). The frozen stage on cached
# features trains only the head, a fraction of a second an epoch: there the tutorial's 10 epochs left
# it short on 40 photos per class. 30, with the rate cut after two-thirds of them, was 1.3-1.6 points
# more accurate and better calibrated on both shared sets, and as accurate or more with every photo
# (benchmarks/README.md, "head_epochs"). Stages that run photos through the network keep the tutorial's 10.
HEAD_EPOCHS = 30
IMAGE_EPOCHS = 10
IMAGE_STEP_SIZE = 10  # StepLR's step for those stages: with 10 epochs the rate never drops, as before


class ConfigError(UserError, ValueError):
    """A config value is wrong; the message names the field."""


@dataclass
class AugmentConfig:
    """The training-time augmentation recipe (the tutorial's, step by step).

    Each step has a switch and its parameters. Validation never augments.
    """

    resize_ratio: float = 256 / 224  # resize the short side to input_size * ratio, then crop
    rotation: bool = True
    rotation_degrees: float = 45.0
    random_crop: bool = False  # False: centre crop after rotation, as the tutorial
    hflip: bool = True
    hflip_p: float = 0.5
    vflip: bool = True
    vflip_p: float = 0.5
    color_jitter: bool = True
    brightness: float = 0.2
    contrast: float = 0.1
    saturation: float = 0.1
    hue: float = 0.1
    grayscale: bool = True
    grayscale_p: float = 0.025

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "AugmentConfig":
        """The recipe saved by ``to_json``; fields of another version are dropped, a damaged text gives
        the defaults (it only holds the user's last switches: nothing to report)."""
        try:
            return cls(**_checked(cls, {k: v for k, v in json.loads(text).items() if k in _FIELD_NAMES}, ""))
        except (ValueError, TypeError, AttributeError):
            return cls()


_FIELD_NAMES = {f.name for f in dataclasses.fields(AugmentConfig)}


@dataclass
class TrainConfig:
    """Everything that decides a training run. Saved as ``config.json`` in the run folder."""

    data_dir: str = ""
    names_file: Optional[str] = None  # JSON folder name -> display name; default: <data>/cat_to_name.json
    val_fraction: float = 0.2  # only for a folder without a train/valid split
    split_seed: int = 42

    backbone: str = "efficientnet_lite0"
    weights: Optional[str] = None  # a local weights file instead of the registry's
    input_size: int = 224

    train_mode: TrainMode = TrainMode.FROZEN
    unfreeze_stages: int = 2  # for last_stages
    resume_from: Optional[str] = None  # model file or run folder whose best weights start this stage

    epochs: Optional[int] = None  # None: HEAD_EPOCHS on cached features, else IMAGE_EPOCHS (see above)
    batch_size: int = 32
    lr: float = 1e-3
    backbone_lr_factor: float = 0.1  # backbone lr = lr * factor when it trains
    weight_decay: float = 0.0
    optimizer: Optimizer = Optimizer.ADAM
    # StepLR: the lr is multiplied by gamma every step_size epochs. None: after two-thirds of the epochs
    # on cached features (20 of 30), else IMAGE_STEP_SIZE.
    step_size: Optional[int] = None
    gamma: float = 0.1
    label_smoothing: float = 0.0
    # Fine-tuning: BatchNorm layers keep their pretrained statistics (weights still train).
    freeze_bn_stats: bool = True

    device: str = "auto"
    amp: bool = True  # autocast on CUDA
    workers: int = 0
    seed: int = 0

    feature_cache: bool = True  # frozen stage: train the head on cached backbone features
    # Views per training photo in the feature cache: 1 = the clean photo only; more adds augmented
    # copies. 1 measured best in accuracy per minute (benchmarks/README.md).
    cache_views: int = 1
    # What runs the frozen backbone over the photos (inference.py): auto = ONNX Runtime on CPU
    # (measured fastest there), PyTorch on CUDA. Training itself always runs in PyTorch.
    inference_engine: InferenceEngine = InferenceEngine.AUTO

    output_dir: str = ""  # where run folders go; default: the user's data folder
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        self._parse_words()

    @property
    def trains_on_cached_features(self) -> bool:
        """The frozen stage with the feature cache on: only the head trains, on features extracted once."""
        return self.train_mode == TrainMode.FROZEN and self.feature_cache

    def _fill_schedule(self) -> None:
        """Give epochs and step_size left at None the stage's defaults (see HEAD_EPOCHS)."""
        head = self.trains_on_cached_features
        if self.epochs is None:
            self.epochs = HEAD_EPOCHS if head else IMAGE_EPOCHS
        if self.step_size is None and _is_int(self.epochs):
            self.step_size = max(1, round(self.epochs * 2 / 3)) if head else IMAGE_STEP_SIZE

    def _parse_words(self) -> None:
        """Turn word fields given as plain strings into their enums; a wrong word stays for validate()."""
        for name, kind in _WORDS.items():
            value = getattr(self, name)
            if isinstance(value, str) and not isinstance(value, kind) and value in {w.value for w in kind}:
                setattr(self, name, kind(value))

    def validate(self) -> "TrainConfig":
        """Raise ConfigError naming the first wrong field; return self (word fields as enums)."""
        def need(cond: bool, name: str, why: str) -> None:
            if not cond:
                raise ConfigError(f"config field '{name}': {why} (got {getattr(self, name)!r})")

        self._parse_words()  # a field may have been set to a plain string after construction
        self._fill_schedule()
        for name, kind in _WORDS.items():
            need(isinstance(getattr(self, name), kind), name, f"must be one of {', '.join(w.value for w in kind)}")
        need(isinstance(self.device, str) and is_device(self.device), "device", "must be auto, cpu, cuda or cuda:N")
        need(_is_int(self.epochs) and self.epochs >= 1, "epochs", "must be a whole number, at least 1")
        need(self.batch_size >= 1, "batch_size", "must be at least 1")
        need(self.lr > 0, "lr", "must be positive")
        need(0 < self.backbone_lr_factor <= 10, "backbone_lr_factor", "must be in (0, 10]")
        need(32 <= self.input_size <= 1024, "input_size", "must be between 32 and 1024")
        need(0 < self.val_fraction < 1, "val_fraction", "must be between 0 and 1")
        need(self.unfreeze_stages >= 1, "unfreeze_stages", "must be at least 1")
        need(_is_int(self.step_size) and self.step_size >= 1, "step_size", "must be a whole number, at least 1")
        need(0 < self.gamma <= 1, "gamma", "must be in (0, 1]")
        need(self.workers >= 0, "workers", "must be 0 or more")
        need(1 <= self.cache_views <= 64, "cache_views", "must be between 1 and 64")
        need(0 <= self.label_smoothing < 1, "label_smoothing", "must be in [0, 1)")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Build from plain data, rejecting unknown fields and wrong types by name."""
        data = dict(data)
        aug = data.pop("augment", {}) or {}
        if not isinstance(aug, dict):
            raise ConfigError(f"config field 'augment' must be an object, got {type(aug).__name__}")
        cfg = cls(**_checked(cls, data, ""), augment=AugmentConfig(**_checked(AugmentConfig, aug, "augment.")))
        return cfg.validate()

    def save(self, path: str | os.PathLike) -> None:
        from flowerstudio.core.foundation.atomic import atomic_write_bytes

        atomic_write_bytes(path, json.dumps(self.to_dict(), indent=2).encode())

    @classmethod
    def load(cls, path: str | os.PathLike) -> "TrainConfig":
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from exc
        if not isinstance(data, dict):
            raise ConfigError(f"config {path}: expected a JSON object")
        return cls.from_dict(data)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _checked(cls: type, data: dict[str, Any], prefix: str) -> dict[str, Any]:
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "augment"}
    out = {}
    for key, value in data.items():
        if key not in fields:
            raise ConfigError(f"unknown config field '{prefix}{key}'")
        default = getattr(cls(), key)
        if default is not None and value is not None:
            kind = str if isinstance(default, Enum) else type(default)  # validate() names a wrong word
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                raise ConfigError(
                    f"config field '{prefix}{key}' must be {kind.__name__}, got {type(value).__name__} {value!r}"
                )
        out[key] = value
    return out
