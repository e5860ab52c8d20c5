"""The next stage of a run, as the advice plans it: what ``flowerstudio continue RUN`` and the Train page's
second button run. Everything comes from the run folder: its history, its split, its best model's
validation mix-ups, and the speeds this computer measured (speeds.py)."""
from __future__ import annotations

import os
from typing import Optional

from flowerstudio.core.foundation.errors import UserError
from flowerstudio.core.foundation.events import Callback, CancelToken, ignore
from flowerstudio.core.foundation.vocab import TrainMode
from flowerstudio.core.model.classifier import resolve_device
from flowerstudio.core.model.model_file import read_model_info
from flowerstudio.core.runs.record import RunRecord
from flowerstudio.core.training import speeds
from flowerstudio.core.training.plan import Advice, advise, most_confused, next_config, stage_seconds


def advice_for_run(record: RunRecord) -> Advice:
    """The advice after the run's last stage, from what the run folder holds."""
    history = record.history()
    if not history:
        raise UserError(f"{record.run_dir} has no finished epoch yet: train it first.")
    cfg = record.config
    info = read_model_info(record.best_path)
    train_n, val_n = record.split_sizes()
    device = resolve_device(cfg.device).type

    def seconds(mode: TrainMode, epochs: int) -> Optional[float]:
        return stage_seconds(epochs, train_n, val_n, speeds.training_speed(cfg.backbone, device, cfg.input_size, mode))

    return advise(history, info.num_classes, train_n / max(info.num_classes, 1), cfg.lr, cfg.unfreeze_stages,
                  most_confused(info.val_confusion, info.display_names), seconds)
