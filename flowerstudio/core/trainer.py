"""The training engine: one call runs a stage (frozen, last stages, or all layers).

Reports through typed events (events.py), checks its cancel token every batch, and tells
the run writer (run_writer.py) how each epoch ended; the writer keeps the best epoch and
writes the run folder.
"""
from __future__ import annotations

import copy
import logging
import os
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from flowerstudio.core import runs
from flowerstudio.core.calibration import TemperatureFit, fit_temperature
from flowerstudio.core.checkpoints import ModelInfo, load_model, load_resume_state, read_model_info
from flowerstudio.core.config import TrainConfig
from flowerstudio.core.dataset import DatasetError, DatasetScan, scan_dataset
from flowerstudio.core.distributed import Distributed
from flowerstudio.core.events import (
    BadImage, Callback, Cancelled, CancelToken, EpochEnd, EpochMetrics, Log, Meter, PhaseStarted, Progress,
    RunStarted, ignore,
)
from flowerstudio.core.featurecache import cache_for
from flowerstudio.core.inference import InferenceNet
from flowerstudio.core.optim import make_optimizer, make_scheduler
from flowerstudio.core.loader import ImageDataset, make_loader
from flowerstudio.core.models import (
    Classifier, batch_to_device, build_classifier, get_spec, resolve_device, to_device,
)
from flowerstudio.core.run_writer import RunWriter
from flowerstudio.core.transforms import build_eval_transform, build_train_transform, resize_size
from flowerstudio.core.vocab import LogLevel, Phase, TrainMode

log = logging.getLogger(__name__)

@contextmanager
def _one_thread_on_cpu(device: torch.device):
    """One intra-op thread on CPU for this thread's torch work inside the block.

    A head's training steps are tiny (a [32, 1280] x [1280, C] product): with two threads every
    op waits at a thread barrier, which on a busy machine costs milliseconds. Ten epochs on 1,600
    cached photos measured 0.5-0.8 s with one thread, 3.6-5.7 s with two (benchmarks/README.md,
    review_loop). OpenMP keeps the setting per thread; the block restores it.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# What best.safetensors and last.safetensors say until the stage's end fits a temperature.
NOT_FITTED = ("temperature not fitted (it is fitted for the best model when its stage ends): confidences are "
              "the raw softmax (T = 1)")


@dataclass
class TrainResult:
    """How a stage ended. status: 'completed' or 'cancelled'.

    ``calibration``: the temperature fitted for the best model at the end of this stage; None when
    none was fitted now (the best model came from an earlier stage and has one, or no model was saved).
    """

    status: str
    run_dir: str
    best_path: Optional[str]
    best_val_acc: float
    best_epoch: int
    history: list[EpochMetrics] = field(default_factory=list)
    bad_images: list[tuple[str, str]] = field(default_factory=list)
    calibration: Optional[TemperatureFit] = None


def train(config: TrainConfig, callback: Callback = ignore, cancel: Optional[CancelToken] = None,
          split_file: str | os.PathLike | None = None) -> TrainResult:
    """Run one training stage as ``config`` says; see TrainConfig for every field.

    ``config`` itself is left as it is; the run's resolved copy is its config.json.
    ``split_file``: another run's split.json to keep (one folder per class): the photos it lists
    keep their side, photos added since go to training.
    """
    return _Run(copy.deepcopy(config).validate(), callback, cancel or CancelToken(),
                split_file=Path(split_file) if split_file else None).execute()


def resume(run_dir: str | os.PathLike, callback: Callback = ignore,
           cancel: Optional[CancelToken] = None) -> TrainResult:
    """Finish a stage that was interrupted (killed, crashed, stopped) from its last epoch:
    last weights, optimizer, scheduler and RNG state, the epochs it still had to run."""
    run_dir = Path(run_dir)
    cfg = TrainConfig.load(run_dir / "config.json")
    state = load_resume_state(run_dir / runs.LAST_STATE)
    cfg.resume_from = str(run_dir / runs.LAST)
    return _Run(cfg.validate(), callback, cancel or CancelToken(), state).execute()


class _Run:
    """One training stage: set up from the config, fit, and report each epoch to the run writer."""

    def __init__(self, cfg: TrainConfig, callback: Callback, cancel: CancelToken,
                 resume_state: Optional[dict] = None, split_file: Optional[Path] = None) -> None:
        self.cfg, self.cancel = cfg, cancel
        self._user_callback = callback
        self.resume_state = resume_state
        self.split_file = split_file
        self.bad: dict[str, str] = {}
        self.dist = Distributed()
        self.writer = RunWriter(self.emit)
        # Set while the stage is set up (_execute, _build_model, _optimizer).
        self.device: Optional[torch.device] = None
        self.scan: Optional[DatasetScan] = None
        self.model: Optional[Classifier] = None
        self.stage_first_epoch = 1
        self.epochs_left = 0
        # Set by _fit_images for _pass and _empty_step.
        self.net: Optional[nn.Module] = None
        self.autocast = nullcontext
        self.scaler: Optional[torch.amp.GradScaler] = None
        # Validation logits and labels (every photo, all ranks) of the best epoch this process ran,
        # and how to compute them again for the current weights (set by the _fit_* methods).
        self.best_val: Optional[tuple[torch.Tensor, torch.Tensor]] = None
        self.validation_logits: Optional[Callable[[], tuple[torch.Tensor, torch.Tensor]]] = None

    # -- reporting -------------------------------------------------------------
    def emit(self, event) -> None:
        if not self.dist.is_main:
            return  # under torchrun, rank 0 speaks for the job
        if isinstance(event, BadImage):
            if event.path in self.bad:
                return
            self.bad[event.path] = event.reason
        self.writer.record(event)
        self._user_callback(event)

    def say(self, text: str, level: LogLevel = LogLevel.INFO) -> None:
        self.emit(Log(text, level))

    # -- setup -----------------------------------------------------------------
    def execute(self) -> TrainResult:
        self.dist = Distributed.from_env(self.cfg.device)
        try:
            return self._execute()
        finally:
            self.dist.close()

    def _execute(self) -> TrainResult:
        cfg, main = self.cfg, self.dist.is_main
        torch.manual_seed(cfg.seed)
        self.device = self.dist.device(cfg.device) or resolve_device(cfg.device)
        start_model, prior_run = self._resume_source()
        prior_split = self.split_file or (prior_run / "split.json" if prior_run else None)
        self.scan = scan_dataset(
            cfg.data_dir, cfg.names_file, cfg.val_fraction, cfg.split_seed,
            split_file=prior_split if prior_split and prior_split.is_file() else None,
            callback=self.emit, cancel=self.cancel,
        )
        if not self.scan.val:
            raise DatasetError(f"{cfg.data_dir}: no validation photos; add a valid/ folder or more photos per class")
        # The run folder appears only once the data is known to be usable.
        root = Path(cfg.output_dir) if cfg.output_dir else runs.default_runs_dir()
        run_dir = prior_run or (runs.new_run_dir(root, cfg.backbone) if main else None)
        run_dir = Path(self.dist.broadcast(str(run_dir)))
        self.writer.open(run_dir, writes=main, continuing=prior_run is not None,
                         up_to_epoch=self.resume_state["epoch"] if self.resume_state is not None else None)
        if main:
            self.scan.save_split(run_dir / "split.json")
            cfg.save(run_dir / "config.json")  # cfg is final from here on
        for path, reason in self.scan.unreadable:
            self.emit(BadImage(path, reason))
        self.emit(RunStarted(str(run_dir), cfg.train_mode))
        self.say(f"Run folder: {run_dir}")
        self.say(self.scan.summary())
        self.model = self._build_model(start_model)
        status, fit = "completed", None
        try:
            try:
                if cfg.trains_on_cached_features:
                    self._fit_cached()
                else:
                    self._fit_images()
            except Cancelled:
                status = "cancelled"
                self.say("Training stopped; the best checkpoint is kept.", LogLevel.WARNING)
            fit = self._calibrate()  # a stopped stage's best model is calibrated too
        finally:
            self.writer.close()
        self.dist.barrier()  # the best file is complete before any rank reads it
        best = self.writer.best_path
        if best.is_file():
            from safetensors.torch import load_file

            self.model.load_state_dict(load_file(str(best)))  # end on the best weights (this run's own file)
        return TrainResult(
            status, str(run_dir), str(best) if best.is_file() else None,
            max(self.writer.best_acc, 0.0), self.writer.best_epoch, list(self.writer.history),
            sorted(self.bad.items()), fit,
        )

    def _resume_source(self) -> tuple[Optional[Path], Optional[Path]]:
        """The model this stage starts from and the run folder it continues, if any.

        The config takes the start model's backbone here, before it is saved with the run.
        """
        if not self.cfg.resume_from:
            return None, None
        path = runs.resolve_model_path(self.cfg.resume_from, self.cfg.output_dir or None)
        run_dir = path.parent if (path.parent / "config.json").is_file() else None
        backbone = read_model_info(path).backbone
        if backbone != self.cfg.backbone:
            self.say(f"Using backbone {backbone} from {path.name}")
            self.cfg.backbone = backbone
        return path, run_dir

    def _build_model(self, start_model: Optional[Path]) -> Classifier:
        cfg, scan = self.cfg, self.scan
        if start_model is not None:
            model, info = load_model(start_model)
            if info.classes != scan.classes:
                raise DatasetError(
                    f"{start_model} was trained on classes {info.classes[:5]}..., but {cfg.data_dir} has "
                    f"{scan.classes[:5]}...; fine-tune on the same dataset"
                )
            self.say(f"Starting from {start_model}")
        else:
            model = build_classifier(cfg.backbone, len(scan.classes), pretrained=True,
                                     weights_file=cfg.weights, callback=self.emit, cancel=self.cancel)
        model.set_trainable(cfg.train_mode, cfg.unfreeze_stages, cfg.freeze_bn_stats)
        trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
        self.say(f"{cfg.backbone}, stage '{cfg.train_mode}': {trainable:,} trainable parameters, device {self.device}")
        return to_device(model, self.device)

    def _optimizer(self, groups: list[dict]) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.StepLR]:
        cfg = self.cfg
        opt = make_optimizer(cfg, groups)
        sched = make_scheduler(cfg, opt)
        self.stage_first_epoch = len(self.writer.history) + 1
        self.epochs_left = cfg.epochs
        if self.resume_state is not None:
            state = self.resume_state
            opt.load_state_dict(state["optimizer"])
            sched.load_state_dict(state["scheduler"])
            torch.set_rng_state(state["torch_rng"])
            self.stage_first_epoch = state["stage_first_epoch"]
            self.epochs_left = max(0, cfg.epochs - (state["epoch"] - self.stage_first_epoch + 1))
            self.say(f"Resuming at epoch {state['epoch'] + 1}: {self.epochs_left} epochs left in this stage")
        return opt, sched

    # -- frozen stage on cached features ---------------------------------------
    def _fit_cached(self) -> None:
        cfg, spec, scan = self.cfg, get_spec(self.cfg.backbone), self.scan
        cache = cache_for(cfg)
        train_tf = build_train_transform(cfg.augment, cfg.input_size, spec.mean, spec.std)
        eval_tf = build_eval_transform(cfg.input_size, spec.mean, spec.std, cfg.augment)
        tr_paths, tr_labels = [s.path for s in scan.train], [s.label for s in scan.train]
        va_paths, va_labels = [s.path for s in scan.val], [s.label for s in scan.val]
        net = InferenceNet(self.model.backbone, self.device, cfg.inference_engine)  # one session for every view
        extract = dict(backbone=net, device=self.device, batch_size=cfg.batch_size,
                       workers=cfg.workers, callback=self.emit, cancel=self.cancel,
                       min_side=resize_size(cfg.input_size, cfg.augment), dist=self.dist)
        views, masks = [], []
        for v in range(cfg.cache_views):
            # View 0 is the clean photo; the others are augmented copies.
            tf = eval_tf if v == 0 else train_tf
            f, ok = cache.features(f"train{v}", tr_paths, tr_labels, tf, label=f" (view {v + 1}/{cfg.cache_views})",
                                   **extract)
            views.append(f)
            masks.append(ok)
        val_x, val_ok = cache.features("val", va_paths, va_labels, eval_tf, label=" (validation)", **extract)
        train_x = torch.stack(views).to(self.device)  # [V, N, D]
        train_y = torch.tensor(tr_labels, device=self.device)
        keep = torch.stack(masks).all(0).to(self.device)
        train_x, train_y = train_x[:, keep], train_y[keep]
        val_x, val_y = val_x[val_ok].to(self.device).float(), torch.tensor(va_labels, device=self.device)[val_ok.to(self.device)]
        head = self.model.head
        # Epochs here take a fraction of a second: the files are written at the end. Only the head changes.
        self.writer.defer_files({f"head.{name}" for name in head.state_dict()})

        def validation_logits() -> tuple[torch.Tensor, torch.Tensor]:
            with torch.inference_mode():
                return head(val_x).float().cpu(), val_y.cpu()

        self.validation_logits = validation_logits  # every rank holds every validation photo here
        opt, sched = self._optimizer([{"params": list(head.parameters()), "lr": cfg.lr}])
        loss_fn = nn.CrossEntropyLoss(label_smoothing=cfg.label_smoothing)
        gen = torch.Generator(device="cpu").manual_seed(cfg.seed)
        n = train_y.shape[0]
        with _one_thread_on_cpu(self.device):
            for _ in range(self.epochs_left):
                epoch = len(self.writer.history) + 1
                t0 = time.perf_counter()
                self.emit(PhaseStarted(Phase.TRAIN, (n + cfg.batch_size - 1) // cfg.batch_size, epoch, cfg.train_mode))
                view = torch.randint(len(views), (n,), generator=gen).to(self.device)
                order = torch.randperm(n, generator=gen).to(self.device)
                x_all = train_x[view, torch.arange(n, device=self.device)].float()
                head.train()
                tot_loss = tot_ok = 0.0
                steps = 0
                for i in range(0, n, cfg.batch_size):
                    self._check_cancel()
                    idx = order[i:i + cfg.batch_size]
                    logits = head(x_all[idx])
                    loss = loss_fn(logits, train_y[idx])
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    tot_loss += loss.item() * len(idx)
                    tot_ok += (logits.argmax(1) == train_y[idx]).sum().item()
                    steps += 1
                    if steps % 20 == 0:
                        self.emit(Progress(Phase.TRAIN, steps, (n + cfg.batch_size - 1) // cfg.batch_size, epoch,
                                           loss=tot_loss / min(i + len(idx), n)))
                head.eval()
                logits, labels = validation_logits()
                val_loss = nn.functional.cross_entropy(logits, labels).item()
                val_acc = (logits.argmax(1) == labels).float().mean().item()
                lr = opt.param_groups[0]["lr"]
                sched.step()
                self._end_epoch(EpochMetrics(epoch, cfg.train_mode, tot_loss / max(n, 1), tot_ok / max(n, 1),
                                             val_loss, val_acc, lr, time.perf_counter() - t0), opt, sched,
                                (logits, labels))


    # -- stages that run images through the network ----------------------------
    def _fit_images(self) -> None:
        cfg, spec, scan = self.cfg, get_spec(self.cfg.backbone), self.scan
        side = resize_size(cfg.input_size, cfg.augment)
        train_ds = ImageDataset([s.path for s in scan.train], [s.label for s in scan.train],
                                build_train_transform(cfg.augment, cfg.input_size, spec.mean, spec.std), side)
        val_ds = ImageDataset([s.path for s in scan.val], [s.label for s in scan.val],
                              build_eval_transform(cfg.input_size, spec.mean, spec.std, cfg.augment), side)
        opt, sched = self._optimizer(self.model.param_groups(cfg.lr, cfg.backbone_lr_factor))
        cuda = self.device.type == "cuda"
        amp_dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
        self.autocast = (lambda: torch.autocast("cuda", dtype=amp_dtype)) if cuda and cfg.amp else nullcontext
        self.scaler = torch.amp.GradScaler("cuda", enabled=cuda and cfg.amp and amp_dtype == torch.float16)
        batch_size = cfg.batch_size
        self.net = self.model
        samplers = {}
        if self.dist.enabled:
            from torch.nn.parallel import DistributedDataParallel
            from torch.utils.data.distributed import DistributedSampler

            self.net = DistributedDataParallel(self.model, device_ids=[self.device.index] if cuda else None)
            samplers = {"train": DistributedSampler(train_ds, self.dist.world, self.dist.rank, seed=cfg.seed),
                        "val": DistributedSampler(val_ds, self.dist.world, self.dist.rank, shuffle=False)}

        def validate(epoch: int) -> tuple[float, float, tuple[torch.Tensor, torch.Tensor]]:
            loader = make_loader(val_ds, batch_size, False, cfg.workers, pin_memory=cuda, sampler=samplers.get("val"))
            kept: list[tuple[torch.Tensor, torch.Tensor]] = []
            loss, acc = self._pass(loader, epoch, None, val_ds, kept)
            return loss, acc, self._gathered(kept)

        self.validation_logits = lambda: validate(len(self.writer.history))[2]
        for _ in range(self.epochs_left):
            epoch = len(self.writer.history) + 1
            t0 = time.perf_counter()
            if samplers:
                samplers["train"].set_epoch(epoch)
            while True:
                loader = make_loader(train_ds, batch_size, True, cfg.workers, cfg.seed + epoch, pin_memory=cuda,
                                     sampler=samplers.get("train"))
                try:
                    train_loss, train_acc = self._pass(loader, epoch, opt, train_ds)
                    break
                except torch.cuda.OutOfMemoryError:
                    if batch_size == 1:
                        raise
                    batch_size //= 2
                    opt.zero_grad(set_to_none=True)
                    torch.cuda.empty_cache()
                    self.say(f"GPU out of memory: batch size halved to {batch_size}; epoch {epoch} restarts", LogLevel.WARNING)
            val_loss, val_acc, val = validate(epoch)
            lr = opt.param_groups[0]["lr"]
            sched.step()
            self._end_epoch(EpochMetrics(epoch, cfg.train_mode, train_loss, train_acc, val_loss, val_acc, lr,
                                         time.perf_counter() - t0), opt, sched, val)

    def _gathered(self, kept: list[tuple[torch.Tensor, torch.Tensor]]) -> tuple[torch.Tensor, torch.Tensor]:
        """The (logits, labels) batches of every rank's share, joined."""
        parts = [p for share in self.dist.gather(kept) for p in share]
        if not parts:  # every validation photo was unreadable
            return torch.zeros(0, self.model.head.out_features), torch.zeros(0, dtype=torch.long)
        return torch.cat([x for x, _ in parts]), torch.cat([y for _, y in parts])

    def _pass(self, loader, epoch: int, opt: Optional[torch.optim.Optimizer], dataset,
              keep: Optional[list] = None) -> tuple[float, float]:
        """One pass over ``loader``: training when ``opt`` is given, else evaluation, whose
        (logits, labels) batches go into ``keep`` when given."""
        phase = Phase.TRAIN if opt is not None else Phase.VALIDATE
        model, dev = self.net, self.device
        model.train(opt is not None)
        meter = Meter(len(loader))
        self.emit(PhaseStarted(phase, len(loader), epoch, self.cfg.train_mode))
        tot_loss = tot_ok = seen = 0.0
        grad = torch.enable_grad() if opt is not None else torch.inference_mode()
        with grad:
            for batch in loader:
                self._check_cancel()
                for j, reason in batch.bad:
                    self.emit(BadImage(dataset.paths[j], reason))
                meter.step()
                if batch.images is None:
                    if self.dist.enabled and opt is not None:
                        self._empty_step(opt)  # DDP ranks must take part in every gradient exchange
                    continue
                x = batch_to_device(batch.images, dev)
                y = batch.labels.to(dev, non_blocking=True)
                with self.autocast():
                    logits = model(x)
                    loss = nn.functional.cross_entropy(
                        logits, y, label_smoothing=self.cfg.label_smoothing if opt else 0.0)
                if opt is not None:
                    opt.zero_grad(set_to_none=True)
                    self.scaler.scale(loss).backward()
                    self.scaler.step(opt)
                    self.scaler.update()
                elif keep is not None:
                    keep.append((logits.detach().float().cpu(), y.cpu()))
                k = y.shape[0]
                tot_loss += loss.item() * k
                tot_ok += (logits.argmax(1) == y).sum().item()
                seen += k
                self.emit(Progress(phase, meter.done, meter.total, epoch, loss=tot_loss / seen, eta=meter.eta))
        tot_loss, tot_ok, seen = self.dist.sum(tot_loss, tot_ok, seen)
        return tot_loss / max(seen, 1), tot_ok / max(seen, 1)

    def _empty_step(self, opt) -> None:
        """A zero-gradient step: a batch of only bad photos on one rank must not stall the others."""
        size = self.cfg.input_size
        x = batch_to_device(torch.zeros(1, 3, size, size), self.device)
        with self.autocast():
            loss = self.net(x).sum() * 0.0
        opt.zero_grad(set_to_none=True)
        loss.backward()

    def _check_cancel(self) -> None:
        if self.dist.any(self.cancel.cancelled):
            raise Cancelled()

    # -- calibration -------------------------------------------------------------
    def _calibrate(self) -> Optional[TemperatureFit]:
        """Fit the temperature of the best model on the validation split; store it in its file."""
        best = self.writer.best_path
        val = self.best_val
        if val is None:
            # The best epoch ran before this process: in an earlier stage (already fitted), or
            # before a resume. Every rank decides alike, as the validation pass below is collective.
            need = self.dist.broadcast(best.is_file() and not read_model_info(best).calibrated)
            if not need:
                return None
            if self.validation_logits is None:  # stopped before the validation photos were ready
                self.say("Calibration skipped: stopped before the validation photos were ready; T = 1",
                         LogLevel.WARNING)
                return None
            self.model.load_state_dict(load_model(best)[0].state_dict())
            try:
                val = self.validation_logits()
            except Cancelled:
                self.say("Calibration skipped: stopped before the validation pass; T = 1", LogLevel.WARNING)
                return None
        fit = fit_temperature(*val)
        self.say(fit.message, LogLevel.INFO if fit.calibrated else LogLevel.WARNING)
        self.writer.calibrated(fit.temperature, fit.calibrated, fit.message)
        return fit

    # -- bookkeeping -------------------------------------------------------------
    def _end_epoch(self, m: EpochMetrics, opt, sched, val: tuple[torch.Tensor, torch.Tensor]) -> None:
        resume_state = {
            "epoch": m.epoch, "stage_first_epoch": self.stage_first_epoch,
            "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "torch_rng": torch.get_rng_state(),
        }
        m = self.writer.epoch_ended(m, self.model, self._info(m), resume_state)
        if m.is_best:
            self.best_val = val
        self.emit(EpochEnd(m))
        self.say(f"epoch {m.epoch}: train loss {m.train_loss:.3f} acc {m.train_acc:.1%}, "
                 f"val loss {m.val_loss:.3f} acc {m.val_acc:.1%}{'  (best)' if m.is_best else ''}")

    def _info(self, m: EpochMetrics) -> ModelInfo:
        spec, cfg = get_spec(self.cfg.backbone), self.cfg
        return ModelInfo(
            backbone=cfg.backbone, classes=list(self.scan.classes), display_names=list(self.scan.display_names),
            input_size=cfg.input_size, mean=list(spec.mean), std=list(spec.std),
            best_val_acc=m.val_acc, epoch=m.epoch, stage=m.stage, config=cfg.to_dict(), calibration=NOT_FITTED,
        )
