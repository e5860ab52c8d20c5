"""A run's truth, read back: what it trained on (config and split) and how good it is (history, best model).

Everyone who asks "which photos did this run validate on?" asks here: evaluation, the doctor's leak
labels, the GUI's counts and advice, a retrain and a resume. None of them draws a split of its own.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from flowerstudio.core.foundation.config import ConfigError, TrainConfig
from flowerstudio.core.foundation.events import Callback, CancelToken, EpochMetrics, ignore
from flowerstudio.core.photos.scan import DatasetScan, scan_dataset
from flowerstudio.core.photos.split import SPLIT_FILE, SavedSplit
from flowerstudio.core.runs.folders import BEST, CONFIG, LAST_STATE
from flowerstudio.core.runs.history import RunError, read_history


def same_folder(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same folder (as typed differently: a trailing slash, a relative path)."""
    key = lambda p: os.path.normcase(os.path.abspath(os.fspath(p)))  # noqa: E731
    return key(a) == key(b)


@dataclass
class RunRecord:
    """A run folder's config and history, and the way to its split and best model."""

    run_dir: Path
    config: TrainConfig

    @classmethod
    def load(cls, run_dir: str | os.PathLike) -> "RunRecord":
        """Read a run folder; RunError naming the file when its config is missing or damaged."""
        run_dir = Path(run_dir)
        path = run_dir / CONFIG
        if not path.is_file():
            raise RunError(f"{run_dir} is not a run folder: it has no {CONFIG}. Choose the folder a training "
                           "run made (it holds best.safetensors and config.json).")
        try:
            config = TrainConfig.load(path)
        except ConfigError as exc:
            raise RunError(f"The run's settings {path} are damaged ({exc}). Restore the file, or train a new "
                           "run.") from exc
        return cls(run_dir, config)

    @classmethod
    def of_model(cls, model_path: str | os.PathLike) -> Optional["RunRecord"]:
        """The run a model file belongs to (the folder it sits in), or None for a model kept elsewhere."""
        folder = Path(model_path).parent
        return cls.load(folder) if (folder / CONFIG).is_file() else None

    @property
    def split_file(self) -> Path:
        return self.run_dir / SPLIT_FILE

    @property
    def best_path(self) -> Path:
        return self.run_dir / BEST

    def history(self) -> list[EpochMetrics]:
        return read_history(self.run_dir)

    def epochs_left(self) -> int:
        """Rounds the run's last stage still had to run when it ended early (Stop, a crash, a kill): what
        resuming it would train. 0 when the stage finished, or when last_state.pt is not that stage's (a
        stage stopped before its first round ended leaves the stage before's state: nothing to finish)."""
        from flowerstudio.core.runs.resume_state import ResumeState

        history = self.history()
        if not history or not (self.run_dir / LAST_STATE).is_file():
            return 0
        try:
            state = ResumeState.load(self.run_dir / LAST_STATE)
        except RunError:
            return 0  # resume would say why; the advice plans a new stage instead
        last = history[-1]
        if last.epoch != state.epoch or str(last.stage) != str(self.config.train_mode):
            return 0
        return state.epochs_left(self.config.epochs)

    def require_split(self, why: str) -> Path:
        """The run's split.json; RunError when it is gone, saying what cannot be done (``why``) without it."""
        if not self.split_file.is_file():
            raise RunError(f"{self.run_dir} has no {SPLIT_FILE} (deleted?): the run's validation photos are "
                           f"unknown, so {why}. Restore {SPLIT_FILE} from a backup, or train a new run.")
        return self.split_file

    def split_sizes(self) -> tuple[int, int]:
        """(training photos, validation photos) of the run's split, from its split.json (no scan)."""
        saved = SavedSplit.load(self.require_split("its photos cannot be counted"))
        return len(saved.train), len(saved.val)

    def trained_on(self, data_dir: str | os.PathLike) -> bool:
        return same_folder(self.config.data_dir, data_dir)

    def scan(self, data_dir: str | os.PathLike | None = None, why: str = "nothing can be said about its photos",
             callback: Callback = ignore, cancel: Optional[CancelToken] = None, check_images: bool = True,
             min_classes: int = 2) -> DatasetScan:
        """The run's dataset as it is now, with the run's split applied (photos added since are training
        photos; split.py). ``data_dir``: the dataset, when it moved."""
        cfg = self.config
        return scan_dataset(data_dir or cfg.data_dir, cfg.names_file, cfg.val_fraction, cfg.split_seed,
                            split_file=self.require_split(why), check_images=check_images, callback=callback,
                            cancel=cancel, min_classes=min_classes)


def scan_as_trained(root: str | os.PathLike, run: Optional[RunRecord], callback: Callback = ignore,
                    cancel: Optional[CancelToken] = None) -> DatasetScan:
    """A dataset as the model in use sees it: with its run's split when that run trained on ``root`` (the
    counts, the per-class photos and the advice then speak of the photos the model learnt and was judged
    on), else split as a new run would split it. A run whose split.json is gone is said, not guessed."""
    if run is not None and run.trained_on(root):
        if run.split_file.is_file():
            return run.scan(root, callback=callback, cancel=cancel)
        scan = scan_dataset(root, run.config.names_file, run.config.val_fraction, run.config.split_seed,
                            callback=callback, cancel=cancel)
        scan.warnings.append(f"The run of the model in use ({run.run_dir.name}) has no split.json: this split is "
                             "drawn now and may differ from the one it was trained on.")
        return scan
    return scan_dataset(root, callback=callback, cancel=cancel)
