"""The backbone registry and the classifier built from it.

A model is always ``Classifier(backbone, head)``: the backbone maps images to a
feature vector (its pretrained output layer removed), the head is a new Linear for
the user's classes. That split is what freezing, the feature cache and the
checkpoint format all rely on.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from flowerstudio.core.model.backbones import BackboneSpec, get_spec
from flowerstudio.core.foundation.vocab import TrainMode


def _build_net(spec: BackboneSpec) -> nn.Module:
    """The backbone's architecture with its original 1000-class head, no weights."""
    if spec.name == "efficientnet_lite0":
        import timm

        # TF 'SAME' padding: what the shipped weights were trained with.
        return timm.create_model("tf_efficientnet_lite0", pretrained=False)
    import torchvision.models

    return torchvision.models.get_model(spec.name, weights=None)


class Classifier(nn.Module):
    """Backbone (images -> features) plus a Linear head (features -> class logits).

    Frozen parts stay in eval mode even while the model trains, so a frozen
    backbone's BatchNorm statistics never drift.
    """

    def __init__(self, backbone: nn.Module, in_features: int, num_classes: int, backbone_name: str) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = nn.Linear(in_features, num_classes)
        self.backbone_name = backbone_name
        self._frozen: list[nn.Module] = []
        self.freeze_bn_stats = False

    @property
    def num_features(self) -> int:
        return self.head.in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def train(self, mode: bool = True) -> "Classifier":
        super().train(mode)
        if mode:
            for module in self._frozen:
                module.eval()
            if self.freeze_bn_stats:
                for module in self.backbone.modules():
                    if isinstance(module, nn.modules.batchnorm._BatchNorm):
                        module.eval()
        return self

    def set_trainable(self, train_mode: TrainMode, unfreeze_stages: int = 2, freeze_bn_stats: bool = False) -> None:
        """'frozen': head only; 'last_stages': the last K backbone stages too; 'all': everything.

        ``freeze_bn_stats`` keeps every BatchNorm of the backbone in inference mode while its
        weights train: its running statistics stay those of pretraining, which the head was
        fitted to (the usual advice for fine-tuning a pretrained network on a small dataset).
        """
        spec = get_spec(self.backbone_name)
        self.freeze_bn_stats = freeze_bn_stats
        self.head.requires_grad_(True)
        if train_mode == TrainMode.ALL:
            self.backbone.requires_grad_(True)
            self._frozen = []
        elif train_mode == TrainMode.FROZEN:
            self.backbone.requires_grad_(False)
            self._frozen = [self.backbone]
        elif train_mode == TrainMode.LAST_STAGES:
            k = max(1, min(unfreeze_stages, spec.num_stages))
            live = [p for stage in spec.stages[-k:] for p in stage]
            self.backbone.requires_grad_(False)
            self._frozen = []
            for name, module in self.backbone.named_modules():
                if any(name == p or name.startswith(p + ".") for p in live):
                    module.requires_grad_(True)
                elif name and not any(c for c in module.children()) and any(True for _ in module.parameters()):
                    self._frozen.append(module)  # a frozen leaf with weights or BN statistics
        else:
            raise ValueError(f"unknown train_mode '{train_mode}'")
        self.train(self.training)

    def param_groups(self, lr: float, backbone_lr_factor: float) -> list[dict]:
        """Optimizer groups holding only parameters that require grad."""
        head = [p for p in self.head.parameters() if p.requires_grad]
        body = [p for p in self.backbone.parameters() if p.requires_grad]
        groups = [{"params": head, "lr": lr, "name": "head"}]
        if body:
            groups.append({"params": body, "lr": lr * backbone_lr_factor, "name": "backbone"})
        return groups


def _pop_module(root: nn.Module, dotted: str) -> nn.Linear:
    parent_name, _, child = dotted.rpartition(".")
    parent = root.get_submodule(parent_name) if parent_name else root
    layer = getattr(parent, child) if not child.isdigit() else parent[int(child)]
    if not isinstance(layer, nn.Linear):
        raise TypeError(f"{dotted} is {type(layer).__name__}, expected Linear")
    if child.isdigit():
        parent[int(child)] = nn.Identity()
    else:
        setattr(parent, child, nn.Identity())
    return layer


def build_classifier(
    backbone: str,
    num_classes: int,
    pretrained: bool = True,
    weights_file: Optional[str] = None,
    callback=None,
    cancel=None,
) -> Classifier:
    """Build the classifier; ``pretrained`` loads ImageNet weights (downloading if needed;
    ``cancel``, a CancelToken, stops a download between chunks with Cancelled)."""
    spec = get_spec(backbone)
    net = _build_net(spec)
    if weights_file or pretrained:
        from flowerstudio.core.model.weights import load_backbone_weights

        load_backbone_weights(spec, net, weights_file, callback, cancel)
    old_head = _pop_module(net, spec.head)
    return Classifier(net, old_head.in_features, num_classes, backbone)


_param_cache: dict[tuple, tuple[int, int]] = {}


def count_parameters(backbone: str, num_classes: int, train_mode: str, unfreeze_stages: int = 2) -> tuple[int, int]:
    """(trainable, total) parameter counts for a setup, without loading weights."""
    key = (backbone, num_classes, train_mode, unfreeze_stages)
    if key not in _param_cache:
        model = build_classifier(backbone, num_classes, pretrained=False)
        model.set_trainable(train_mode, unfreeze_stages)
        params = list(model.parameters())
        _param_cache[key] = (sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params))
    return _param_cache[key]


def to_device(model: nn.Module, device: torch.device) -> nn.Module:
    """Move a model to ``device`` in channels-last layout (measured ~1.3x faster inference and
    ~2x faster training on CPU, and the fast path for tensor cores on CUDA)."""
    return model.to(device, memory_format=torch.channels_last)


def batch_to_device(x: torch.Tensor, device: torch.device) -> torch.Tensor:
    """The input counterpart of to_device."""
    return x.to(device, non_blocking=True).contiguous(memory_format=torch.channels_last)


def available_devices() -> list[tuple[str, str]]:
    """[(device string, human name)], CPU first."""
    devices = [("cpu", "CPU")]
    if torch.cuda.is_available():
        devices += [(f"cuda:{i}", torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())]
    return devices


def resolve_device(choice: str) -> torch.device:
    """'auto' -> CUDA when available, else CPU; a clear error when CUDA is asked for but absent."""
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"device '{choice}' was asked for, but no CUDA GPU is available; use --device cpu")
    return torch.device(choice)
