"""The engine's vocabulary: every word that travels in configs, events and files, one enum each.

They are ``str`` enums, so a member equals its word (``TrainMode.FROZEN == "frozen"``), ``json``
and ``csv`` write the plain word, and ``TrainMode("frozen")`` parses one. This module imports
nothing heavy: the GUI reads it before torch is loaded.
"""
from __future__ import annotations

from enum import Enum


class Word(str, Enum):
    """A str enum whose str() and f-string form is the plain word (Python 3.10 to 3.12 alike)."""

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)


class TrainMode(Word):
    """Which layers a training stage trains (also a run's "stage")."""

    FROZEN = "frozen"  # the head only; the backbone stays as pretrained
    LAST_STAGES = "last_stages"  # the head and the backbone's last K stages
    ALL = "all"  # every layer


class Phase(Word):
    """What the engine is doing, in PhaseStarted and Progress events."""

    DOWNLOAD = "download"
    SCAN = "scan"
    EXTRACT = "extract"
    TRAIN = "train"
    VALIDATE = "validate"
    PREDICT = "predict"
    LR_FIND = "lr_find"
    CROSS_VALIDATE = "cross_validate"  # the doctor's out-of-sample class probabilities
    NEIGHBOURS = "neighbours"  # the doctor's nearest-neighbour search (duplicates, outliers)
    COMPARE = "compare"  # the doctor's pixel check of candidate copies


class DuplicateKind(Word):
    """How alike two photos of a duplicate pair are."""

    EXACT = "exact"  # the same picture: equal pixels once shrunk (a copy, resized or re-encoded)
    NEAR = "near"  # other pixels, nearly the same features (another shot, a crop, an edit)


class Finding(Word):
    """The kinds of problem the doctor reports; a "keep" decision names one."""

    LABEL = "label"  # likely in the wrong class folder
    DUPLICATE = "duplicate"
    OUTLIER = "outlier"  # far from every class


class LogLevel(Word):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class CheckpointKind(Word):
    BEST = "best"
    LAST = "last"


class Status(Word):
    """How a long call ended: every one (train, predict, evaluate, export, the doctor...) returns it."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"  # stopped by its cancel token (Stop, Ctrl-C, SIGTERM); what was done is kept


class Part(Word):
    """Which part of a dataset a photo belongs to."""

    TRAIN = "train"
    VAL = "val"
    TEST = "test"


class Layout(Word):
    """How a dataset folder is laid out."""

    SPLIT = "split"  # root/train|valid|test/<class>/...: the folders are the split
    FLAT = "flat"  # root/<class>/...: validation is drawn from each class (seeded) and saved with the run


class FixAction(Word):
    """What the Review page (and the doctor's fixes) can do with a finding."""

    MOVE = "move"  # into the class folder the photo seems to belong to
    EXCLUDE = "exclude"  # left out of training (listed in .flowerstudio/exclude.txt; nothing is deleted)
    KEEP = "keep"  # the finding is wrong: never reported again


class Split(Word):
    """Which photos of a labelled folder to evaluate on."""

    AUTO = "auto"  # test/ when there is one, else the validation split
    TRAIN = "train"
    VAL = "val"
    TEST = "test"
    ALL = "all"


class Optimizer(Word):
    ADAM = "adam"
    ADAMW = "adamw"
    SGD = "sgd"


class Device(Word):
    """The named device choices; a config's device may also be one GPU, "cuda:N"."""

    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


def is_device(text: str) -> bool:
    """A device word a config accepts: auto, cpu, cuda or cuda:N."""
    if text in {d.value for d in Device}:
        return True
    prefix, _, index = text.partition(":")
    return prefix == Device.CUDA and index.isdigit()


class ExportFormat(Word):
    """Model export formats. Here, not in export.py, so the GUI can list them before torch loads."""

    ONNX = "onnx"
    TORCHSCRIPT = "torchscript"

    @property
    def suffix(self) -> str:
        return {"onnx": ".onnx", "torchscript": ".torchscript.pt"}[self.value]

    @property
    def title(self) -> str:
        return {"onnx": "ONNX (.onnx) — for most apps and languages",
                "torchscript": "TorchScript (.torchscript.pt) — for PyTorch and C++"}[self.value]


class InferenceEngine(Word):
    """What runs a frozen network's forward pass: feature extraction and prediction (never training)."""

    AUTO = "auto"  # ONNX Runtime on CPU, PyTorch on CUDA (measured: benchmarks/README.md, engines)
    PYTORCH = "pytorch"  # the fused, channels-last PyTorch forward
    ONNXRUNTIME = "onnxruntime"  # ONNX Runtime (CPU) on the network exported once into the cache folder
