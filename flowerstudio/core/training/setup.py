"""A training stage's setup, decided once before the first step: the photos and their split, the run folder,
the model, the optimizer and, when resuming, where it left off. Everything after reads the ``Setup``.

The split is the run's truth: a stage that continues a run (fine-tuning its best model, resuming it,
a retrain from it) applies that run's split.json, never a new draw; a run without one is refused.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.foundation.errors import ensure_writable
from flowerstudio.core.foundation.events import BadImage, CancelToken, RunStarted
from flowerstudio.core.model.classifier import Classifier, build_classifier, resolve_device, to_device
from flowerstudio.core.model.model_file import load_model, read_model_info
from flowerstudio.core.model.preprocessing import Preprocessing
from flowerstudio.core.photos.names import DatasetError
from flowerstudio.core.photos.scan import DatasetScan, scan_dataset
from flowerstudio.core.runs import folders
from flowerstudio.core.runs.record import RunRecord
from flowerstudio.core.runs.resume_state import ResumeState
from flowerstudio.core.runs.writer import RunWriter
from flowerstudio.core.runtime.distributed import Distributed
from flowerstudio.core.training.optim import make_optimizer, make_scheduler
from flowerstudio.core.training.report import Reporter

# Room a run folder needs before training starts: best and last model files (rewritten in place), the
# resume state, and the logs. EfficientNet-Lite0's file is 14 MB, ResNet-50's 94 MB: 3x the largest.
RUN_FOLDER_BYTES = 300 * 1024 * 1024


@dataclass(frozen=True)
class Start:
    """Where a stage starts: a model file (and the run it belongs to), or the pretrained backbone."""

    model: Optional[Path] = None
    run: Optional[RunRecord] = None  # the run the stage continues (its folder, its split)


@dataclass(frozen=True)
class Setup:
    """Everything a stage decided before its first step."""

    config: TrainConfig  # resolved (the start model's backbone); saved as the run's config.json
    preprocessing: Preprocessing
    device: torch.device
    dist: Distributed
    scan: DatasetScan
    run_dir: Optional[Path]  # None: a learning-rate range test, which writes no run
    model: Classifier
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.StepLR
    first_epoch: int  # the run's epoch number the stage began at (from 1)
    epochs_left: int
    start: Start


def find_start(cfg: TrainConfig, report: Reporter) -> Start:
    """The model the stage starts from and the run it continues; the config takes the model's backbone."""
    if not cfg.resume_from:
        return Start()
    path = folders.resolve_model_path(cfg.resume_from, cfg.output_dir or None)
    backbone = read_model_info(path).backbone
    if backbone != cfg.backbone:
        report.say(f"Using backbone {backbone} from {path.name}")
        cfg.backbone = backbone
    return Start(path, RunRecord.of_model(path))


def scan_for(cfg: TrainConfig, start: Start, split_file: Optional[Path], report: Reporter,
             cancel: CancelToken) -> DatasetScan:
    """The stage's photos: with the split of ``split_file`` (a retrain's), of the run it continues, or drawn now."""
    if split_file is None and start.run is not None:
        split_file = start.run.require_split("continuing it would mix them into training")
    scan = scan_dataset(cfg.data_dir, cfg.names_file, cfg.val_fraction, cfg.split_seed, split_file=split_file,
                        callback=report.emit, cancel=cancel)
    if not scan.val:
        raise DatasetError(f"{cfg.data_dir}: no validation photos; add a valid/ folder or more photos per class")
    return scan


def build_model(cfg: TrainConfig, scan: DatasetScan, start: Start, device: torch.device, report: Reporter,
                cancel: CancelToken) -> Classifier:
    """The model at the stage's start, with the layers it trains unfrozen, on ``device``."""
    if start.model is not None:
        model, info = load_model(start.model)
        if info.classes != scan.classes:
            raise DatasetError(f"{start.model} was trained on classes {info.classes[:5]}..., but {cfg.data_dir} "
                               f"has {scan.classes[:5]}...; fine-tune on the same dataset")
        report.say(f"Starting from {start.model}")
    else:
        model = build_classifier(cfg.backbone, len(scan.classes), pretrained=True, weights_file=cfg.weights,
                                 callback=report.emit, cancel=cancel)
    model.set_trainable(cfg.train_mode, cfg.unfreeze_stages, cfg.freeze_bn_stats)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    report.say(f"{cfg.backbone}, stage '{cfg.train_mode}': {trainable:,} trainable parameters, device {device}")
    return to_device(model, device)


def _run_folder(cfg: TrainConfig, start: Start, dist: Distributed) -> Path:
    """The run folder: the continued run's, else a new one (rank 0 makes it, every rank gets its name)."""
    if start.run is not None:
        return start.run.run_dir
    root = Path(cfg.output_dir) if cfg.output_dir else folders.default_runs_dir()
    if dist.is_main:
        ensure_writable(root, RUN_FOLDER_BYTES, "the runs folder")
    return Path(dist.broadcast(str(folders.new_run_dir(root, cfg.backbone)) if dist.is_main else None))


def prepare(cfg: TrainConfig, report: Reporter, cancel: CancelToken, dist: Distributed,
            resume: Optional[ResumeState] = None, split_file: Optional[Path] = None) -> Setup:
    """Decide everything a stage needs, in order: start model, photos, run folder, model, optimizer."""
    torch.manual_seed(cfg.seed)
    device = dist.device(cfg.device) or resolve_device(cfg.device)
    start = find_start(cfg, report)
    scan = scan_for(cfg, start, split_file, report, cancel)
    run_dir = _run_folder(cfg, start, dist)  # it appears only once the data is known to be usable
    if start.run is not None and dist.is_main:
        ensure_writable(run_dir, RUN_FOLDER_BYTES, "the run folder")
    report.writer.open(run_dir, writes=dist.is_main, continuing=start.run is not None,
                       up_to_epoch=resume.epoch if resume is not None else None)
    if dist.is_main:
        scan.save_split(run_dir / "split.json")
        cfg.save(run_dir / folders.CONFIG)  # cfg is final from here on
    for path, reason in scan.unreadable:
        report.emit(BadImage(path, reason))
    report.emit(RunStarted(str(run_dir), cfg.train_mode))
    report.say(f"Run folder: {run_dir}")
    report.say(scan.summary())
    model = build_model(cfg, scan, start, device, report, cancel)
    optimizer = make_optimizer(cfg, model.param_groups(cfg.lr, cfg.backbone_lr_factor))
    scheduler = make_scheduler(cfg, optimizer)
    first, left = len(report.writer.history) + 1, cfg.epochs
    if resume is not None:
        optimizer.load_state_dict(resume.optimizer)
        scheduler.load_state_dict(resume.scheduler)
        torch.set_rng_state(resume.torch_rng)
        first, left = resume.stage_first_epoch, resume.epochs_left(cfg.epochs)
        report.say(f"Resuming at epoch {resume.epoch + 1}: {left} epochs left in this stage")
    return Setup(cfg, Preprocessing.for_run(cfg), device, dist, scan, run_dir, model, optimizer, scheduler,
                 first, left, start)
