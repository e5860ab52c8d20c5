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
from flowerstudio.core.training.plan import (Advice, StagePlan, advise, finish_stopped, most_confused, next_config,
                                             stage_seconds)


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

    advice = advise(history, info.num_classes, train_n / max(info.num_classes, 1), cfg.lr, cfg.unfreeze_stages,
                    most_confused(info.val_confusion, info.display_names), seconds)
    left = record.epochs_left()
    if left:
        return finish_stopped(advice, cfg.train_mode, cfg.unfreeze_stages, cfg.lr, left, cfg.epochs,
                              seconds(cfg.train_mode, left))
    return advice


def run_plan(record: RunRecord, plan: StagePlan, callback: Callback = ignore,
             cancel: Optional[CancelToken] = None, device: str = "", output_dir: str = ""):
    """Run what ``plan`` says for the run: its stopped stage's last rounds (resumed in the same folder, on
    the run's own settings), or a new stage from its best model (``device``, ``output_dir``: when given,
    the caller's choice over the run's). The Train page's second button and ``flowerstudio continue``."""
    from flowerstudio.core.training.trainer import resume, train

    if plan.finish:
        return resume(record.run_dir, callback, cancel)
    config = next_config(record, plan)
    if device:
        config.device = device
    if output_dir:
        config.output_dir = output_dir
    return train(config, callback, cancel)
