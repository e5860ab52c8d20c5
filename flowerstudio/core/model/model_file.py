"""The model file: one .safetensors holding the weights plus JSON metadata.

Loading never unpickles anything. Writes are atomic (see atomic.py), so a process
killed mid-save leaves the previous file intact. Reading a file's metadata needs no
torch, so the GUI can show a model before the heavy libraries load.
"""
from __future__ import annotations

import io
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import flowerstudio
from flowerstudio.core.foundation.atomic import atomic_write_bytes
from flowerstudio.core.foundation.errors import UserError
from flowerstudio.core.foundation.events import Score
from flowerstudio.core.foundation.vocab import TrainMode
from flowerstudio.core.model.preprocessing import Preprocessing

FORMAT = "flowerstudio-model"
FORMAT_VERSION = 1

if TYPE_CHECKING:
    import torch


def _torch_version() -> str:
    import torch

    return torch.__version__


class CheckpointError(UserError, ValueError):
    """A model file is missing, corrupt, truncated or not one of ours; the message names it."""


@dataclass
class ModelInfo:
    """What a model file says about itself."""

    backbone: str
    classes: list[str]  # class folder names, in label order
    display_names: list[str]
    input_size: int
    mean: list[float]
    std: list[float]
    best_val_acc: float = 0.0
    epoch: int = 0
    stage: Optional[TrainMode] = None  # None: a file that does not say
    config: dict[str, Any] = field(default_factory=dict)
    app_version: str = flowerstudio.__version__
    torch_version: str = field(default_factory=_torch_version)
    created: str = ""
    format_version: int = FORMAT_VERSION
    # Confidences are softmax(logits / temperature), fitted on the validation split at the end of
    # the stage (calibration.py). ``calibrated`` False: T = 1, and ``calibration`` says why.
    temperature: float = 1.0
    calibrated: bool = False
    calibration: str = ""
    # The short side photos are resized to before the centre crop (0: a file written before it was kept).
    resize: int = 0
    # The best epoch's validation result, exactly (-1 / None: a file written before they were kept).
    val_correct: int = -1
    val_total: int = -1
    val_loss: Optional[float] = None
    # The best epoch's validation confusion matrix (rows: true class, columns: predicted), where kept.
    val_confusion: Optional[list[list[int]]] = None

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def preprocessing(self) -> Preprocessing:
        """How photos become this model's input: the one object every user of the model builds from."""
        return Preprocessing.of_model(self.input_size, self.mean, self.std, self.resize, self.config)

    @property
    def score(self) -> Optional[Score]:
        """Its validation result, to compare models exactly; None for a file that does not hold one."""
        if self.val_total < 0 or self.val_loss is None:
            return None
        return Score(self.val_correct, self.val_total, self.val_loss)


def save_weights(path: str | Path, tensors: dict[str, torch.Tensor], info: ModelInfo) -> None:
    """Write a state dict + metadata atomically (a DiskError naming ``path`` when the disk refuses)."""
    from safetensors.torch import save

    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    info.created = info.created or time.strftime("%Y-%m-%dT%H:%M:%S")
    meta = {"format": FORMAT, "format_version": str(FORMAT_VERSION), "flowerstudio": json.dumps(asdict(info))}
    # Serialised in memory, written by atomic_write_bytes: safetensors' own file writer reports a full disk
    # as its SafetensorError, without the errno that says what happened.
    atomic_write_bytes(path, save(tensors, metadata=meta))


def update_model_info(path: str | Path, **changes: Any) -> ModelInfo:
    """Rewrite a model file's metadata (atomically), its weights as they are; returns the new info."""
    from dataclasses import replace

    from safetensors.torch import load_file

    info = replace(read_model_info(path), **changes)
    try:
        tensors = load_file(str(path), device="cpu")
    except Exception as exc:
        raise CheckpointError(f"{path}: weights are unreadable (corrupt or truncated?): {exc}") from exc
    save_weights(path, tensors, info)
    return info


def read_model_info(path: str | Path) -> ModelInfo:
    """Read only the metadata (cheap: the header, not the weights).

    Every field is checked (type and range): a malformed or crafted file raises
    CheckpointError naming the file and the field.
    """
    from safetensors import safe_open

    from flowerstudio.core.model.metadata import MetadataError, checked_fields, parse_format_version

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"model file not found: {path}")
    try:
        with safe_open(str(path), framework="numpy") as fh:
            meta = fh.metadata() or {}
    except OSError as exc:
        raise CheckpointError(f"Cannot read {path}: {exc.strerror or exc}") from exc
    except Exception as exc:  # safetensors reports what is wrong in its own terms ("header too large")
        raise CheckpointError(f"{path} is not a Flower Studio model file: it is not in the model format "
                              "(.safetensors), or it is damaged or cut short. Open the best.safetensors file "
                              "of a training run.") from exc
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a .safetensors file but not a Flower Studio model (no '{FORMAT}' metadata)")
    try:
        version = parse_format_version(meta.get("format_version", "0"))
        if version > FORMAT_VERSION:
            raise CheckpointError(f"{path} was made by a newer Flower Studio (format {version}); update the app")
        if "flowerstudio" not in meta:
            raise MetadataError("flowerstudio", "is missing")
        try:
            data = json.loads(meta["flowerstudio"])
        except ValueError as exc:
            raise MetadataError("flowerstudio", f"is not valid JSON ({exc})") from exc
        return ModelInfo(**checked_fields(data, set(ModelInfo.__dataclass_fields__)))
    except MetadataError as exc:
        raise CheckpointError(f"{path}: model {exc}") from exc


def load_model(path: str | Path, device: str | torch.device = "cpu") -> tuple[torch.nn.Module, ModelInfo]:
    """Rebuild the classifier from a model file; weights only, no pickle."""
    from safetensors.torch import load_file

    from flowerstudio.core.model.classifier import build_classifier

    info = read_model_info(path)
    try:
        state = load_file(str(path), device="cpu")
    except Exception as exc:
        raise CheckpointError(f"{path}: weights are unreadable (corrupt or truncated?): {exc}") from exc
    check_finite(state, path)
    try:
        model = build_classifier(info.backbone, info.num_classes, pretrained=False)
    except ValueError as exc:  # an unknown backbone name
        raise CheckpointError(f"{path}: model metadata field 'backbone': {exc}") from exc
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not match backbone {info.backbone}: {exc}") from exc
    return model.to(device).eval(), info


def check_finite(state: dict, path: str | Path) -> None:
    """CheckpointError naming the file and the first tensor holding NaN or infinity: damaged weights would
    give every photo a 'nan' confidence."""
    import torch

    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"{path} is damaged: its weights '{name}' hold numbers that are not finite "
                                  "(NaN or infinity). Use another model file, or train again.")
