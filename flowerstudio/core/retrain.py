"""The review loop's retrain: after reviewed photos were added to the class folders, train the
head again from the feature cache, so only the new photos go through the backbone.

The retrain is the frozen stage of the run it starts from, on the dataset as it is now, in a
new run folder beside it (the old model stays as it was). The old run's split is kept: its
validation photos stay validation photos, and every added photo goes to training, so the
validation set the temperature is fitted on does not tilt towards the photos a user picked.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from flowerstudio.core import runs
from flowerstudio.core.config import TrainConfig
from flowerstudio.core.events import Callback, CancelToken, Log, ignore
from flowerstudio.core.vocab import TrainMode

# The fields that make a fine-tuning stage's recipe: a head trained from scratch needs the
# frozen stage's defaults instead (a fine-tune's lr is ten times too small for a new head).
_STAGE_RECIPE = ("epochs", "batch_size", "lr", "weight_decay", "optimizer", "step_size", "gamma",
                 "label_smoothing")


def head_config(source: str | os.PathLike, data_dir: Optional[str | os.PathLike] = None) -> TrainConfig:
    """The frozen-stage config that retrains the head of ``source`` (a run folder or a model file in one).

    Everything that decides the data and the features is the run's; the stage is the frozen one,
    from the pretrained backbone (resume_from None, feature cache on), with the run's training
    recipe when the run's last stage was a frozen one, else the frozen stage's defaults.
    ``data_dir``: the dataset to train on, when not the run's.
    """
    run = _run_dir(source)
    cfg = TrainConfig.load(run / "config.json")
    if cfg.train_mode != TrainMode.FROZEN:
        defaults = TrainConfig()
        for name in _STAGE_RECIPE:
            setattr(cfg, name, getattr(defaults, name))
    cfg.train_mode, cfg.resume_from, cfg.feature_cache = TrainMode.FROZEN, None, True
    cfg.output_dir = str(run.parent)  # the new run sits beside the old one
    if data_dir is not None:
        cfg.data_dir = os.fspath(data_dir)
    return cfg.validate()


def retrain_head(source: str | os.PathLike, callback: Callback = ignore, cancel: Optional[CancelToken] = None,
                 data_dir: Optional[str | os.PathLike] = None):
    """Retrain the head of run ``source`` on its dataset as it is now; returns the new run's TrainResult.

    Photos whose features are cached (every photo the run trained or validated on) are not
    extracted again; the new run's best model is calibrated like any other. See head_config().
    """
    from flowerstudio.core.trainer import train

    cfg = head_config(source, data_dir)
    split = _run_dir(source) / "split.json"
    callback(Log(f"Retraining the head of {_run_dir(source).name} on {cfg.data_dir} "
                 f"(frozen stage, {cfg.epochs} epochs, lr {cfg.lr:g})"))
    return train(cfg, callback, cancel, split_file=split if split.is_file() else None)


def _run_dir(source: str | os.PathLike) -> Path:
    """The run folder of a run folder, a model file in one, or 'best'/'last'."""
    path = runs.resolve_model_path(source)
    if not (path.parent / "config.json").is_file():
        raise FileNotFoundError(f"{path.parent} is not a run folder (no config.json): retraining needs "
                                "the run's dataset and settings")
    return path.parent
