"""The run folder's writer: one object owns its files and the best/last policy (after timm's CheckpointSaver).

The training loop only reports "epoch N ended with these metrics"; the writer decides whether it is
the best so far (``Score.beats``: more validation photos right, then a lower loss; a tie keeps the
earlier model, across stages too), writes best.safetensors, last.safetensors + last_state.pt,
history.csv/json, and keeps the lines of train.log.

With ``defer_files`` (the frozen stage on cached features, whose epochs take a fraction of a second)
the model files are written once, when the stage ends, instead of after every epoch.

A write that fails (disk full, read-only) raises a DiskError; ``close`` still writes what it can
(the log first, then the history), so the reason is on disk beside the last good files.
"""
from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Collection, Optional

from flowerstudio.core.foundation.errors import UserError, disk_errors
from flowerstudio.core.foundation.events import BadImage, Callback, CheckpointSaved, EpochMetrics, Log, Score, ignore
from flowerstudio.core.foundation.filelock import HeldLock
from flowerstudio.core.foundation.fsnames import FS_ERRORS
from flowerstudio.core.foundation.vocab import CheckpointKind
from flowerstudio.core.model.model_file import ModelInfo, read_model_info, save_weights, update_model_info
from flowerstudio.core.runs import folders
from flowerstudio.core.runs.history import RunError, read_history, write_history
from flowerstudio.core.runs.resume_state import ResumeState


class RunWriter:
    """Writes one run folder, chosen by ``open`` once the data is known to be usable; log lines
    recorded before that (the scan's) still go to train.log. ``CheckpointSaved`` events go to ``callback``."""

    def __init__(self, callback: Callback = ignore) -> None:
        self._callback = callback
        self.run_dir: Optional[Path] = None
        self.writes = False
        self.history: list[EpochMetrics] = []
        self.best: Optional[Score] = None  # the best model's score so far (this run, all stages)
        self.best_epoch = 0
        self.best_before: Optional[Score] = None  # the best of the stages before this one
        self._log_lines: list[str] = []
        self._defer = False
        self._changing: frozenset[str] = frozenset()
        self._live: Optional[dict] = None  # the deferring stage's model.state_dict(), walked once
        # When deferring: the best and the last epoch's (state dict, info, metrics or resume state), unwritten.
        self._pending: dict[CheckpointKind, tuple] = {}
        self._lock: Optional[HeldLock] = None
        self._closed = False

    def defer_files(self, changing: Collection[str]) -> None:
        """Write the model files once, at close(), from a snapshot of the best and of the last epoch.

        ``changing``: the state-dict keys the stage trains (the head's). Only they are copied into
        each epoch's snapshot; the rest (a frozen backbone the epochs never run) is kept by reference.
        """
        self._defer, self._changing, self._live = True, frozenset(changing), None

    def open(self, run_dir: Path, writes: bool = True, continuing: bool = False,
             up_to_epoch: Optional[int] = None) -> None:
        """Write into ``run_dir`` from now on, holding its lock. ``writes=False`` (a torchrun rank other than
        0) keeps the policy and history in step with rank 0 but touches no file and reports nothing.

        ``continuing``: the folder already has epochs; carry on its history (up to ``up_to_epoch``,
        the last one the resume state knows: a crash may have come between two writes) and its best.
        """
        self.run_dir, self.writes = Path(run_dir), writes
        if writes:
            self._lock = folders.hold(run_dir)
            if self._lock is None:
                raise RunError(f"Another Flower Studio is training in {run_dir} right now; wait for it to end.")
        if continuing:
            self._continue(up_to_epoch)

    @property
    def best_path(self) -> Path:
        return folders.best_model_path(self.run_dir)

    def _continue(self, up_to_epoch: Optional[int]) -> None:
        self.history = [m for m in read_history(self.run_dir) if up_to_epoch is None or m.epoch <= up_to_epoch]
        if self.best_path.is_file():
            info = read_model_info(self.best_path)
            self.best_epoch = info.epoch
            epoch = next((m for m in self.history if m.epoch == info.epoch), None)
            self.best = info.score or (epoch.score if epoch is not None else None)
        self.best_before = self.best

    def epoch_ended(self, m: EpochMetrics, model, info: ModelInfo, resume: ResumeState) -> EpochMetrics:
        """Record epoch ``m`` and write its files; returns ``m`` with ``is_best`` set.

        ``info`` describes ``model`` at this epoch; ``resume`` is what resume() needs and is written
        beside last.safetensors.
        """
        m = replace(m, is_best=m.score.beats(self.best))
        self.history.append(m)
        if m.is_best:
            self.best, self.best_epoch = m.score, m.epoch
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
            self._pending[CheckpointKind.LAST] = (state, info, copy.deepcopy(resume))
            return m
        if m.is_best:
            self._save_best(model.state_dict(), info, m)
        self._save_last(model.state_dict(), info, resume)
        return m

    def _save_best(self, state: dict, info: ModelInfo, m: EpochMetrics) -> None:
        save_weights(self.best_path, state, info)
        self._callback(CheckpointSaved(str(self.best_path), CheckpointKind.BEST, m.epoch, m.val_acc))

    def _save_last(self, state: dict, info: ModelInfo, resume: ResumeState) -> None:
        # last_state.pt after last.safetensors, history last: resume trusts the state's epoch.
        save_weights(self.run_dir / folders.LAST, state, info)
        resume.save(self.run_dir / folders.LAST_STATE)
        write_history(self.run_dir, self.history)

    def update_best(self, **fields) -> None:
        """Add to what best.safetensors says about its model (its temperature, its validation confusion);
        the weights stay as they are."""
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
        """Write any deferred model files, the history, and append this stage's lines to train.log (the
        run may already have some). Every part is tried; the first failure is raised after the rest."""
        if not self.writes or self.run_dir is None or self._closed:
            return
        self._closed = True
        failure: Optional[BaseException] = None
        steps = [lambda: self._save_best(*self._pending.pop(CheckpointKind.BEST))
                 if CheckpointKind.BEST in self._pending else None,
                 lambda: self._save_last(*self._pending.pop(CheckpointKind.LAST))
                 if CheckpointKind.LAST in self._pending else None,
                 lambda: write_history(self.run_dir, self.history) if self.history else None,
                 self._append_log]
        for step in steps:
            try:
                step()
            except (OSError, UserError) as exc:
                failure = failure or exc
                self._log_lines.append(f"error: {exc}")  # the log, when it can still be written, says why
        if self._lock is not None:
            self._lock.release()
            self._lock = None
        if failure is not None:
            raise failure

    def _append_log(self) -> None:
        path = self.run_dir / folders.LOG
        with disk_errors(path), open(path, "a", encoding="utf-8", errors=FS_ERRORS) as fh:  # exact odd names
            fh.write("\n".join(self._log_lines) + "\n")
        self._log_lines = []
