"""The run folder's writer: one object owns its files and the best/last policy.

The training loop only reports "epoch N ended with these metrics"; the writer decides
whether it is the best so far (validation accuracy, ties to the lower validation loss),
writes best.safetensors, last.safetensors + last_state.pt, history.csv/json, and keeps
the lines of train.log (after timm's CheckpointSaver).
"""
from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any, Optional

from flowerstudio.core import runs
from flowerstudio.core.checkpoints import (
    ModelInfo, read_model_info, save_model, save_resume_state, update_model_info,
)
from flowerstudio.core.events import BadImage, Callback, CheckpointSaved, EpochMetrics, Log, ignore
from flowerstudio.core.fsnames import FS_ERRORS
from flowerstudio.core.vocab import CheckpointKind


class RunWriter:
    """Writes one run folder, chosen by ``open`` once the data is known to be usable; log lines
    recorded before that (the scan's) still go to train.log.

    ``CheckpointSaved`` events go to ``callback``.
    """

    def __init__(self, callback: Callback = ignore) -> None:
        self._callback = callback
        self.run_dir: Optional[Path] = None
        self.writes = False
        self.history: list[EpochMetrics] = []
        self.best_acc, self.best_loss, self.best_epoch = -1.0, math.inf, 0
        self._log_lines: list[str] = []

    def open(self, run_dir: Path, writes: bool = True, continuing: bool = False,
             up_to_epoch: Optional[int] = None) -> None:
        """Write into ``run_dir`` from now on. ``writes=False`` (a torchrun rank other than 0) keeps
        the policy and history in step with rank 0 but touches no file and reports nothing.

        ``continuing``: the folder already has epochs; carry on its history (up to ``up_to_epoch``,
        the last one the resume state knows: a crash may have come between two writes) and its best.
        """
        self.run_dir, self.writes = Path(run_dir), writes
        if continuing:
            self._continue(up_to_epoch)

    @property
    def best_path(self) -> Path:
        return runs.best_model_path(self.run_dir)

    def _continue(self, up_to_epoch: Optional[int]) -> None:
        self.history = [m for m in runs.read_history(self.run_dir) if up_to_epoch is None or m.epoch <= up_to_epoch]
        if self.best_path.is_file():
            best = read_model_info(self.best_path)
            self.best_acc, self.best_epoch = best.best_val_acc, best.epoch
            # The loss of that epoch decides ties with it.
            self.best_loss = next((m.val_loss for m in self.history if m.epoch == best.epoch), math.inf)

    def is_better(self, m: EpochMetrics) -> bool:
        return m.val_acc > self.best_acc or (m.val_acc == self.best_acc and m.val_loss < self.best_loss)

    def epoch_ended(self, m: EpochMetrics, model, info: ModelInfo, resume_state: dict[str, Any]) -> EpochMetrics:
        """Record epoch ``m`` and write its files; returns ``m`` with ``is_best`` set.

        ``info`` describes ``model`` at this epoch; ``resume_state`` is what resume() needs
        (optimizer, scheduler, RNG, epoch) and is written beside last.safetensors.
        """
        m = replace(m, is_best=self.is_better(m))
        self.history.append(m)
        if m.is_best:
            self.best_acc, self.best_loss, self.best_epoch = m.val_acc, m.val_loss, m.epoch
        if not self.writes:
            return m
        if m.is_best:
            save_model(self.best_path, model, info)
            self._callback(CheckpointSaved(str(self.best_path), CheckpointKind.BEST, m.epoch, m.val_acc))
        # last_state.pt after last.safetensors, history last: resume trusts the state's epoch.
        save_model(self.run_dir / runs.LAST, model, info)
        save_resume_state(self.run_dir / runs.LAST_STATE, resume_state)
        runs.write_history(self.run_dir, self.history)
        return m

    def calibrated(self, temperature: float, calibrated: bool, note: str) -> None:
        """Store the temperature fitted for the best model in best.safetensors (its weights unchanged)."""
        if self.writes and self.best_path.is_file():
            update_model_info(self.best_path, temperature=temperature, calibrated=calibrated, calibration=note)

    def record(self, event) -> None:
        """Keep a Log or BadImage event for train.log."""
        if isinstance(event, BadImage):
            self._log_lines.append(f"bad image skipped: {event.path}: {event.reason}")
        elif isinstance(event, Log):
            self._log_lines.append(f"{event.level}: {event.text}")

    def close(self) -> None:
        """Write the history and append this stage's lines to train.log (the run may already have some)."""
        if not self.writes or self.run_dir is None:
            return
        runs.write_history(self.run_dir, self.history)
        with open(self.run_dir / "train.log", "a", encoding="utf-8", errors=FS_ERRORS) as fh:  # exact odd names
            fh.write("\n".join(self._log_lines) + "\n")

