"""The review loop's retrain: after reviewed photos were added to the class folders, train the head again
from the feature cache, so only the new photos go through the backbone.

The retrain is the frozen stage of the run it starts from, on the dataset as it is now, in a new run
folder beside it (the old model stays as it was). The old run's split is kept: its validation photos
stay validation photos and every added photo goes to training, so the new model is judged on the same
photos as the model it may replace — and the comparison (``Verdict``) is exact. A better model in use
is never dropped silently: the verdict says which to use, with both figures.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.foundation.events import Callback, Cancelled, CancelToken, Log, ignore
from flowerstudio.core.foundation.vocab import TrainMode
from flowerstudio.core.model.model_file import ModelInfo, read_model_info
from flowerstudio.core.runs import folders
from flowerstudio.core.runs.record import RunRecord
from flowerstudio.core.training.trainer import TrainResult, train

# The fields that make a fine-tuning stage's recipe: a head trained from scratch needs the
# frozen stage's defaults instead (a fine-tune's lr is ten times too small for a new head).
_STAGE_RECIPE = ("epochs", "batch_size", "lr", "weight_decay", "optimizer", "step_size", "gamma",
                 "label_smoothing")
_STAGE_WORDS = {TrainMode.FROZEN: "new layer only", TrainMode.LAST_STAGES: "fine-tuned", TrainMode.ALL: "fine-tuned"}


@dataclass(frozen=True)
class Verdict:
    """Which model to use after a retrain, and why, in words with both figures."""

    use_new: bool
    message: str


def head_config(record: RunRecord, data_dir: Optional[str | os.PathLike] = None) -> TrainConfig:
    """The frozen-stage config that retrains the head of ``record``'s run.

    Everything that decides the data and the features is the run's; the stage is the frozen one,
    from the pretrained backbone (resume_from None, feature cache on), with the run's training
    recipe when the run's last stage was a frozen one, else the frozen stage's defaults.
    """
    cfg = record.config
    if cfg.train_mode != TrainMode.FROZEN:
        defaults = TrainConfig()
        for name in _STAGE_RECIPE:
            setattr(cfg, name, getattr(defaults, name))
    cfg.train_mode, cfg.resume_from, cfg.feature_cache = TrainMode.FROZEN, None, True
    cfg.output_dir = str(record.run_dir.parent)  # the new run sits beside the old one
    if data_dir is not None:
        cfg.data_dir = os.fspath(data_dir)
    return cfg.validate()


def compare(new: TrainResult, old_path: str | os.PathLike, old: ModelInfo) -> Verdict:
    """Keep the better of the retrained model and ``old`` (the model in use), by the one rule (Score.beats)."""
    now = f"The retrained model scores {new.best.words()}" if new.best else "The retrained model has no score"
    was = f"the model in use ({_STAGE_WORDS.get(old.stage, 'an earlier model')}, {Path(old_path).parent.name})"
    if old.score is None:
        return Verdict(True, f"{now}; {was} has no exact score on file, so the retrained model is used.")
    then = f"{was} scores {old.score.words()}"
    other = "" if new.best is None or new.best.total == old.score.total else \
        " (some validation photos are gone since that model was made)"
    if new.best is not None and new.best.beats(old.score):
        return Verdict(True, f"{now}; {then}{other}: the retrained model is used from now on.")
    return Verdict(False, f"{now}; {then}{other}: the model in use stays, being as good or better. Fine-tune the "
                          "new run to include the added photos in a fine-tuned model.")


def retrain_head(source: str | os.PathLike, callback: Callback = ignore, cancel: Optional[CancelToken] = None,
                 data_dir: Optional[str | os.PathLike] = None) -> tuple[TrainResult, Verdict]:
    """Retrain the head of the run of ``source`` (the model in use: a model file, a run folder or
    'best'/'last') on its dataset as it is now; returns the new run's result and whether to use it.

    Photos whose features are cached (every photo the run trained or validated on) are not
    extracted again; the new run's best model is calibrated like any other. A run without its
    split.json is refused: its validation photos would become training photos.
    """
    model = folders.resolve_model_path(source)
    record = RunRecord.of_model(model)
    if record is None:
        raise FileNotFoundError(f"{model.parent} is not a run folder (no config.json): retraining needs the "
                                "run's dataset and settings")
    split = record.require_split("a retrain would mix them into its training photos")
    cfg = head_config(record, data_dir)
    callback(Log(f"Retraining the new layer of {record.run_dir.name} on {cfg.data_dir} (frozen stage, "
                 f"{cfg.epochs} epochs, lr {cfg.lr:g})"))
    old = read_model_info(model)
    try:
        result = train(cfg, callback, cancel, split_file=split)
    except Cancelled as stop:
        if stop.partial is not None:
            raise Cancelled((stop.partial, compare(stop.partial, model, old))) from None
        raise
    verdict = compare(result, model, old)
    callback(Log(verdict.message))
    return result, verdict
