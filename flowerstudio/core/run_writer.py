"""The run folder's writer: one object owns its files and the best/last policy.

The training loop only reports "epoch N ended with these metrics"; the writer decides
whether it is the best so far (validation accuracy, ties to the lower validation loss),
writes best.safetensors, last.safetensors + last_state.pt, history.csv/json, and keeps
the lines of train.log (after timm's CheckpointSaver).

With ``defer_files`` (the frozen stage on cached features, whose epochs take a fraction of a second)
the model files are written once, when the stage ends, instead of after every epoch: two 14 MB
fsynced files per epoch were most of that stage's time (benchmarks/README.md, review_loop).
"""
from __future__ import annotations

import copy
import math
from dataclasses import replace
from pathlib import Path
from typing import Any, Collection, Optional

from flowerstudio.core import runs
from flowerstudio.core.checkpoints import (
    ModelInfo, read_model_info, save_resume_state, save_weights, update_model_info,
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
        self._defer = False
        self._changing: frozenset[str] = frozenset()
        self._live: Optional[dict] = None  # the deferring stage's model.state_dict(), walked once
        # When deferring: the best and the last epoch's (state dict, info, metrics or resume state), unwritten.
        self._pending: dict[CheckpointKind, tuple] = {}

    def defer_files(self, changing: Collection[str]) -> None:
        """Write the model files once, at close(), from a snapshot of the best and of the last epoch.

        ``changing``: the state-dict keys the stage trains (the head's). Only they are copied into
        each epoch's snapshot; the rest (a frozen backbone the epochs never run) is kept by reference.
        Copying the whole network took 12 ms an epoch, most of an epoch on cached features.
        """
        self._defer, self._changing, self._live = True, frozenset(changing), None

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
        if self._defer:
            # The state dict's tensors share storage with the model's: taken once, they follow its training.
            if self._live is None:
                self._live = model.state_dict()
            state = {k: v.detach().to("cpu", copy=True) if k in self._changing else v for k, v in self._live.items()}
            if m.is_best:
                self._pending[CheckpointKind.BEST] = (state, info, m)
            # A copy: the optimizer's state tensors change in place with the next epoch's steps.
            self._pending[CheckpointKind.LAST] = (state, info, copy.deepcopy(resume_state))
            return m
        if m.is_best:
            self._save_best(model.state_dict(), info, m)
        self._save_last(model.state_dict(), info, resume_state)
        return m

    def _save_best(self, state: dict, info: ModelInfo, m: EpochMetrics) -> None:
        save_weights(self.best_path, state, info)
        self._callback(CheckpointSaved(str(self.best_path), CheckpointKind.BEST, m.epoch, m.val_acc))

    def _save_last(self, state: dict, info: ModelInfo, resume_state: dict[str, Any]) -> None:
        # last_state.pt after last.safetensors, history last: resume trusts the state's epoch.
        save_weights(self.run_dir / runs.LAST, state, info)
        save_resume_state(self.run_dir / runs.LAST_STATE, resume_state)
        runs.write_history(self.run_dir, self.history)

    def calibrated(self, temperature: float, calibrated: bool, note: str) -> None:
        """Store the temperature fitted for the best model in best.safetensors (its weights unchanged)."""
        fields = dict(temperature=temperature, calibrated=calibrated, calibration=note)
        if not self.writes:
            return
        if CheckpointKind.BEST in self._pending:
            state, info, m = self._pending[CheckpointKind.BEST]
            self._pending[CheckpointKind.BEST] = (state, replace(info, **fields), m)
        elif self.best_path.is_file():
            update_model_info(self.best_path, **fields)

    def record(self, event) -> None:
        """Keep a Log or BadImage event for train.log."""
        if isinstance(event, BadImage):
            self._log_lines.append(f"bad image skipped: {event.path}: {event.reason}")
        elif isinstance(event, Log):
            self._log_lines.append(f"{event.level}: {event.text}")

    def close(self) -> None:
        """Write any deferred model files, the history, and append this stage's lines to train.log
        (the run may already have some)."""
        if not self.writes or self.run_dir is None:
            return
        if CheckpointKind.BEST in self._pending:
            self._save_best(*self._pending.pop(CheckpointKind.BEST))
        if CheckpointKind.LAST in self._pending:
            self._save_last(*self._pending.pop(CheckpointKind.LAST))
        runs.write_history(self.run_dir, self.history)
        with open(self.run_dir / "train.log", "a", encoding="utf-8", errors=FS_ERRORS) as fh:  # exact odd names
            fh.write("\n".join(self._log_lines) + "\n")

