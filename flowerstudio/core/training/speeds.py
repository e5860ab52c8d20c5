"""How fast this computer trains: photos a second, measured by the stages it ran, kept for the advice.

The advice puts a cost on each suggestion ("about 8 minutes here"). A fine-tuning stage's own speed is
the best guess for the next one; before any, the frozen stage's extraction speed gives one: a training
step (forward, backward, optimizer) costs about ``TRAIN_COST`` forward passes (benchmarks/finetune.py).
The file is a convenience: unreadable or unwritable, the advice just says less.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

from flowerstudio.core.foundation.atomic import atomic_write_bytes
from flowerstudio.core.foundation.vocab import TrainMode

# A fine-tuning step of all layers takes this many times the photos' extraction on the CPU: EfficientNet-Lite0
# at 224 px, ONNX Runtime's forward 150-170 photos/s against the app's fine-tuning epoch's 41-55 (lean.py;
# benchmarks/README.md, finetune). Training only the last stages skips the frozen part's backward and
# optimizer, and its photos are kept decoded after the first epoch (runtime/kept.py): 153-186 photos/s there
# in the same run as 41-43 for all layers, LAST_STAGES_GAIN times as fast (its first epoch a little less).
TRAIN_COST = 3.0
LAST_STAGES_GAIN = 4.0
EXTRACT = "extract"


def _file() -> Path:
    from platformdirs import user_data_dir

    return Path(os.environ.get("FLOWERSTUDIO_SPEEDS_FILE") or Path(user_data_dir("FlowerStudio", appauthor=False))
                / "speeds.json")


def _key(backbone: str, device: str, input_size: int, what: str) -> str:
    return f"{backbone}|{device}|{input_size}|{what}"


def _read() -> dict:
    try:
        data = json.loads(_file().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def record(backbone: str, device: str, input_size: int, what: str, photos_per_second: float) -> None:
    """Remember a measured speed (``what``: a TrainMode, or EXTRACT)."""
    if photos_per_second <= 0:
        return
    data = _read()
    data[_key(backbone, device, input_size, str(what))] = round(photos_per_second, 2)
    try:
        atomic_write_bytes(_file(), json.dumps(data, indent=1, sort_keys=True).encode())
    except OSError:
        pass  # the advice will say less; training is not worth stopping for this


def training_speed(backbone: str, device: str, input_size: int, mode: TrainMode) -> Optional[float]:
    """Photos a second a ``mode`` stage trains at here: measured, else estimated from extraction; None if unknown."""
    data = _read()
    measured = data.get(_key(backbone, device, input_size, str(mode)))
    if isinstance(measured, (int, float)) and measured > 0:
        return float(measured)
    extract = data.get(_key(backbone, device, input_size, EXTRACT))
    if isinstance(extract, (int, float)) and extract > 0:
        return float(extract) / TRAIN_COST * (LAST_STAGES_GAIN if mode == TrainMode.LAST_STAGES else 1.0)
    return None
