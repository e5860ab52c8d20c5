"""Command line: ``flowerstudio train|retrain|predict|evaluate|find-lr|export|doctor|backbones`` (also ``python -m flowerstudio``)."""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from collections import Counter
from typing import Optional, Sequence

from flowerstudio.core.config import TrainConfig
from flowerstudio.core.events import BadImage, CancelToken, Log, PhaseStarted, Progress
from flowerstudio.core.vocab import ExportFormat, InferenceEngine, LogLevel, Phase, Split, TrainMode

# Each maps a flag to a TrainConfig field; a flag left out keeps the config file's (or default) value.
_TRAIN_FLAGS = [
    ("--backbone", "backbone", str, "backbone name (see 'flowerstudio backbones')"),
    ("--weights", "weights", str, "local pretrained weights file (.pth or .safetensors) instead of downloading"),
    ("--names", "names_file", str, "JSON mapping folder name -> display name (default: DATA/cat_to_name.json)"),
    ("--epochs", "epochs", int, "epochs to train (default 30 for the frozen stage on cached features, else 10)"),
    ("--batch-size", "batch_size", int, "photos per batch (default 32)"),
    ("--lr", "lr", float, "learning rate of the head (default 1e-3)"),
    ("--backbone-lr-factor", "backbone_lr_factor", float, "backbone lr = lr x this when it trains (default 0.1)"),
    ("--optimizer", "optimizer", str, "adam (default), adamw or sgd"),
    ("--weight-decay", "weight_decay", float, "weight decay (default 0)"),
    ("--step-size", "step_size", int, "StepLR: decay the lr every N epochs (default: after two-thirds of a frozen stage's epochs, else 10)"),
    ("--gamma", "gamma", float, "StepLR: decay factor (default 0.1)"),
    ("--input-size", "input_size", int, "input size in pixels (default 224)"),
    ("--val-fraction", "val_fraction", float, "validation share for a folder without a split (default 0.2)"),
    ("--seed", "seed", int, "random seed (default 0)"),
    ("--device", "device", str, "auto (default), cpu, cuda or cuda:N"),
    ("--workers", "workers", int, "data-loading worker processes (default 0)"),
    ("--inference-engine", "inference_engine", str, "frozen stage: what runs the backbone over the photos: auto (default: onnxruntime on CPU, pytorch on CUDA), pytorch or onnxruntime"),
    ("--cache-views", "cache_views", int, "frozen stage: views per photo in the feature cache (1 = clean photo, default; more = + augmented copies)"),
    ("--resume-from", "resume_from", str, "start from a model file, a run folder, or 'best'/'last' of the latest run"),
    ("--output", "output_dir", str, "folder for run folders (default: your user data folder)"),
]

# Other spellings people type: the config file's field name for the runs folder.
_ALIASES = {"--output": ("--output-dir",)}


def _add_stage_flags(p, skip: tuple[str, ...] = ()) -> None:
    """The dataset, config file, TrainConfig flags and stage choice shared by 'train' and 'find-lr'."""
    p.add_argument("data", help="dataset folder: DATA/train/<class>/, DATA/valid/<class>/ or DATA/<class>/")
    p.add_argument("--config", help="JSON config file (e.g. a run's config.json); flags override it")
    for flag, dest, kind, help_ in _TRAIN_FLAGS:
        if dest not in skip:
            p.add_argument(flag, *_ALIASES.get(flag, ()), dest=dest, type=kind, default=None, help=help_)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--freeze", dest="train_mode", action="store_const", const=TrainMode.FROZEN,
                      help="the head-only stage: the backbone stays frozen (default)")
    mode.add_argument("--unfreeze", dest="train_mode", action="store_const", const=TrainMode.ALL,
                      help="fine-tune every layer (usually with --resume-from best)")
    mode.add_argument("--unfreeze-stages", dest="unfreeze_stages", type=int, metavar="K",
                      help="fine-tune the last K backbone stages plus the head")
    p.add_argument("--no-feature-cache", dest="feature_cache", action="store_false", default=None,
                   help="frozen stage: run every photo through the backbone every epoch")


# The TrainConfig flags that decide what the doctor looks at (the scan, the backbone and its features).
_DOCTOR_FIELDS = ("backbone", "weights", "names_file", "batch_size", "input_size", "val_fraction", "device",
                  "workers", "output_dir")


def _add_doctor(sub) -> None:
    p = sub.add_parser("doctor", help="find likely mislabelled photos, duplicates (and train/validation leaks) "
                                      "and outliers in a dataset")
    p.add_argument("data", help="dataset folder, as for 'train'")
    p.add_argument("--config", help="JSON config file (e.g. a run's config.json); flags override it")
    for flag, dest, kind, help_ in _TRAIN_FLAGS:
        if dest in _DOCTOR_FIELDS:
            p.add_argument(flag, *_ALIASES.get(flag, ()), dest=dest, type=kind, default=None, help=help_)
    p.add_argument("--out", help="folder for label_issues.csv, duplicates.csv, outliers.csv and summary.json "
                                 "(default: a new <time>-doctor folder in the runs folder)")


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a classifier on a folder of class folders")
    _add_stage_flags(p)
    p.add_argument("--no-augment", action="store_true", help="switch every augmentation step off")


def _add_retrain(sub) -> None:
    p = sub.add_parser("retrain", help="train the head of a run again on its dataset as it is now (photos added "
                                       "since are the only ones run through the backbone)")
    p.add_argument("run", help="the run folder, a model file in it, or 'best'/'last' for the latest run")
    p.add_argument("--data", help="the dataset folder, when not the run's")


def _add_predict(sub) -> None:
    p = sub.add_parser("predict", help="label photos with a trained model")
    p.add_argument("model", help="model file (.safetensors), run folder, or 'best' for the latest run")
    p.add_argument("inputs", nargs="+", help="photos and/or folders (searched recursively)")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--csv", help="write predictions to this CSV file")
    p.add_argument("--sort-into", metavar="DIR", help="copy each photo into DIR/<label>/")
    p.add_argument("--min-confidence", type=float, default=0.6, help="below it photos go to DIR/_uncertain/")
    p.add_argument("--move", action="store_true", help="move instead of copy with --sort-into")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto")
    _add_engine_flag(p)


def _add_engine_flag(p) -> None:
    p.add_argument("--engine", type=InferenceEngine, choices=list(InferenceEngine), default=InferenceEngine.AUTO,
                   help="what runs the network: auto (default: onnxruntime on CPU, pytorch on CUDA), pytorch or "
                        "onnxruntime")


def _add_evaluate(sub) -> None:
    p = sub.add_parser("evaluate", help="accuracy, per-class accuracy and confusion matrix on a labelled folder")
    p.add_argument("model")
    p.add_argument("data", help="labelled folder (class folders, or train/valid/test layout)")
    p.add_argument("--split", default=Split.AUTO, type=Split, choices=list(Split),
                   help="auto: test/ if present, else the validation split")
    p.add_argument("--out", help="write report.json, per_class.csv, confusion.csv, mistakes.csv here")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto")
    _add_engine_flag(p)


def _add_find_lr(sub) -> None:
    p = sub.add_parser("find-lr", help="learning-rate range test: suggests a learning rate for a training stage")
    _add_stage_flags(p, skip=("lr",))
    p.add_argument("--start-lr", type=float, default=1e-7)
    p.add_argument("--end-lr", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=100, help="mini-batches to run (default 100)")
    p.add_argument("--csv", help="write the curve (lr, smoothed loss) to this CSV file")


def _add_export(sub) -> None:
    p = sub.add_parser("export", help="export a model to ONNX or TorchScript, with a JSON sidecar and a check")
    p.add_argument("model", help="model file (.safetensors), run folder, or 'best' for the latest run")
    p.add_argument("--format", dest="fmt", type=ExportFormat, choices=list(ExportFormat), default=ExportFormat.ONNX)
    p.add_argument("--out", help="output file (default: beside the model, e.g. best.onnx)")
    p.add_argument("--verify", nargs="+", metavar="FOLDER_OR_FILES",
                   help="photos to compare the exported model with PyTorch on")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.add_argument("--overwrite", action="store_true", help="replace the output file if it exists")


class TqdmReporter:
    """Turns engine events into tqdm bars and printed lines."""

    # Bad photos listed per reason before the rest are only counted: a folder of 2,000 iPhone photos
    # would otherwise print 2,000 identical lines. A training run's train.log still lists every one.
    BAD_LINES_PER_REASON = 3

    def __init__(self, quiet: bool = False) -> None:
        self.bar = None
        self.quiet = quiet
        self.reasons: Counter[str] = Counter()  # bad photos per reason

    def __call__(self, event) -> None:
        from tqdm import tqdm

        if isinstance(event, PhaseStarted):
            self.close()
            label = f"{event.phase} {event.epoch}" if event.epoch else event.phase
            # disable=None: no bars when stderr is not a terminal (a log file gets lines, not \r redraws).
            self.bar = tqdm(total=event.total or None, desc=label, unit="B" if event.phase == Phase.DOWNLOAD else "it",
                            unit_scale=event.phase == Phase.DOWNLOAD, leave=False, disable=True if self.quiet else None)
        elif isinstance(event, Progress) and self.bar is not None:
            self.bar.n = event.done
            if event.loss is not None:
                self.bar.set_postfix(loss=f"{event.loss:.3f}", refresh=False)
            self.bar.refresh()
        elif isinstance(event, BadImage):
            self.reasons[event.reason] += 1
            seen = self.reasons[event.reason]
            if seen <= self.BAD_LINES_PER_REASON:
                tqdm.write(f"skipped bad image {event.path}: {event.reason}", file=sys.stderr)
            if seen == self.BAD_LINES_PER_REASON:
                tqdm.write("  (more photos skipped for this reason are counted, not listed)", file=sys.stderr)
        elif isinstance(event, Log) and not self.quiet:
            tqdm.write(("" if event.level == LogLevel.INFO else f"{event.level}: ") + event.text)

    @property
    def bad(self) -> int:
        return sum(self.reasons.values())

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _cancel_on_ctrl_c() -> CancelToken:
    token = CancelToken()

    def handler(_signum, _frame):
        if token.cancelled:
            raise KeyboardInterrupt
        print("\nstopping after this batch (Ctrl-C again to abort)", file=sys.stderr)
        token.cancel()

    signal.signal(signal.SIGINT, handler)
    return token


def _config_from_args(args) -> TrainConfig:
    """The config file (if any), then every flag given on top of it."""
    cfg = TrainConfig.load(args.config) if args.config else TrainConfig()
    data = cfg.to_dict()
    data["data_dir"] = args.data
    for _, dest, _, _ in _TRAIN_FLAGS:
        if getattr(args, dest, None) is not None:
            data[dest] = getattr(args, dest)
    if getattr(args, "unfreeze_stages", None) is not None:  # not every command has the stage flags
        data["train_mode"], data["unfreeze_stages"] = TrainMode.LAST_STAGES, args.unfreeze_stages
    elif getattr(args, "train_mode", None):
        data["train_mode"] = args.train_mode
    if getattr(args, "feature_cache", None) is not None:
        data["feature_cache"] = args.feature_cache
    if getattr(args, "no_augment", False):
        for switch in ("rotation", "hflip", "vflip", "color_jitter", "grayscale"):
            data["augment"][switch] = False
    return TrainConfig.from_dict(data)


def cmd_train(args) -> int:
    from flowerstudio.core.trainer import train

    cfg = _config_from_args(args)
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    reporter = TqdmReporter(quiet=not main_rank)
    start = time.perf_counter()
    try:
        result = train(cfg, reporter, _cancel_on_ctrl_c())
    finally:
        reporter.close()
    if not main_rank:
        return 0 if result.status == "completed" else 130
    print(f"{result.status}: best validation accuracy {result.best_val_acc:.1%} at epoch {result.best_epoch}, "
          f"{len(result.history)} epochs in {time.perf_counter() - start:.0f}s, {len(result.bad_images)} bad images; "
          f"model {result.best_path}")
    return 0 if result.status == "completed" else 130


def cmd_resume(args) -> int:
    from flowerstudio.core.runs import resolve_model_path
    from flowerstudio.core.trainer import resume

    run = resolve_model_path(args.run).parent
    reporter = TqdmReporter()
    try:
        result = resume(run, reporter, _cancel_on_ctrl_c())
    finally:
        reporter.close()
    print(f"{result.status}: best validation accuracy {result.best_val_acc:.1%} at epoch {result.best_epoch}, "
          f"{len(result.history)} epochs in the run; model {result.best_path}")
    return 0 if result.status == "completed" else 130


def cmd_retrain(args) -> int:
    from flowerstudio.core.retrain import retrain_head

    reporter = TqdmReporter()
    start = time.perf_counter()
    try:
        result = retrain_head(args.run, reporter, _cancel_on_ctrl_c(), data_dir=args.data)
    finally:
        reporter.close()
    print(f"{result.status}: best validation accuracy {result.best_val_acc:.1%} at epoch {result.best_epoch}, "
          f"in {time.perf_counter() - start:.1f}s; model {result.best_path}")
    return 0 if result.status == "completed" else 130


def _calibration_line(info) -> str:
    """What the confidences printed or used mean, for a model's info."""
    if info.calibrated:
        return f"confidences are calibrated (temperature {info.temperature:.3g})"
    return f"note: {info.calibration}"  # each note says why, and that T = 1


def cmd_predict(args) -> int:
    from flowerstudio.core.distributed import Distributed
    from flowerstudio.core.predict import list_images

    paths = list_images(args.inputs)
    if not paths:
        print(f"error: no images found in {', '.join(args.inputs)}", file=sys.stderr)
        return 1
    dist = Distributed.from_env(args.device)  # under torchrun: this process's share, rank 0 merges
    try:
        return _predict(args, paths, dist)
    finally:
        dist.close()


def _predict(args, paths, dist) -> int:
    from flowerstudio.core import shards
    from flowerstudio.core.predict import Predictor, write_csv
    from flowerstudio.core.runs import resolve_model_path
    from flowerstudio.core.sorting import sort_into

    device = dist.device(args.device) or args.device
    predictor = Predictor(resolve_model_path(args.model), str(device), args.engine)
    if dist.is_main:
        print(_calibration_line(predictor.info), file=sys.stderr)
    reporter = TqdmReporter(quiet=not dist.is_main)
    try:
        result = predictor.predict(shards.share(paths, dist), args.batch_size, args.top_k, reporter,
                                   _cancel_on_ctrl_c())
    finally:
        reporter.close()
    if args.csv:
        write_csv(result.predictions, shards.part_path(args.csv, dist), args.top_k)
    job = shards.gather(result, dist, with_predictions=bool(args.sort_into or not args.csv))
    if not dist.is_main:
        return 130 if job.cancelled else 0
    if args.csv and dist.enabled:
        shards.merge_csv(args.csv, dist)
    elif not args.sort_into:
        for p in job.predictions:
            print(f"{p.path}\t{p.name}\t{p.confidence:.3f}")
    if args.sort_into:
        print(sort_into(job.predictions, args.sort_into, args.min_confidence, args.move,
                        names=predictor.info.display_names).summary())
    mean = f" (mean confidence {job.mean_confidence:.1%})" if job.labelled else ""
    print(f"{'cancelled' if job.cancelled else 'done'}: {job.labelled} photos labelled{mean}, "
          f"{len(job.unreadable)} unreadable" + (f"; CSV {args.csv}" if args.csv else ""))
    if job.cancelled:
        return 130
    if not job.labelled and job.unreadable:  # a script must not take "nothing could be read" for success
        print(f"error: none of the {len(job.unreadable)} photos could be read", file=sys.stderr)
        return 1
    return 0


def cmd_evaluate(args) -> int:
    from flowerstudio.core.evaluate import evaluate
    from flowerstudio.core.predict import Predictor
    from flowerstudio.core.runs import resolve_model_path

    reporter = TqdmReporter()
    try:
        model = resolve_model_path(args.model)
        report = evaluate(model, args.data, args.split, args.batch_size, args.device, reporter, _cancel_on_ctrl_c(),
                          predictor=Predictor(model, args.device, args.engine))
    finally:
        reporter.close()
    width = max(len(r["name"]) for r in report.per_class())
    for r in report.per_class():
        print(f"{r['name']:<{width}}  {r['correct']:>5}/{r['images']:<5} {r['accuracy']:7.1%}  "
              f"{'-> ' + r['most_confused_with'] if r['most_confused_with'] else ''}")
    if args.out:
        report.save(args.out)
    print(report.summary() + (f"; written to {args.out}" if args.out else ""))
    return 0


def cmd_find_lr(args) -> int:
    from flowerstudio.core.lr_finder import find_lr

    cfg = _config_from_args(args)
    if not 0 < args.start_lr < args.end_lr or args.steps < 2:
        print("error: need 0 < --start-lr < --end-lr and --steps of at least 2", file=sys.stderr)
        return 1
    reporter = TqdmReporter()
    try:
        result = find_lr(cfg, args.start_lr, args.end_lr, args.steps, reporter,
                         _cancel_on_ctrl_c())
    finally:
        reporter.close()
    if args.csv:
        from flowerstudio.core.csvfile import write_csv_file

        write_csv_file(args.csv, ("lr", "loss"), zip(result.lrs, result.losses))
    ending = "cancelled" if result.cancelled else "loss diverged" if result.stopped_early else "full range"
    print(f"suggested learning rate {result.suggested_lr:.2e} ({len(result.lrs)} steps from {args.start_lr:.0e}, "
          f"{ending})" + (f"; curve in {args.csv}" if args.csv else ""))
    return 130 if result.cancelled else 0


def cmd_export(args) -> int:
    from flowerstudio.core.export import export_model
    from flowerstudio.core.predict import list_images
    from flowerstudio.core.runs import resolve_model_path

    photos = list_images(args.verify) if args.verify else []
    if args.verify and not photos:
        print(f"error: no images found in {', '.join(args.verify)}", file=sys.stderr)
        return 1
    result = export_model(resolve_model_path(args.model), args.out, args.fmt, photos, args.opset,
                          overwrite=args.overwrite, cancel=_cancel_on_ctrl_c())
    print(result.message)
    return 1 if result.verified is False else 0


def cmd_doctor(args) -> int:
    from flowerstudio.core.atomic import make_unique_dir
    from flowerstudio.core.doctor import diagnose
    from flowerstudio.core.runs import default_runs_dir

    cfg = _config_from_args(args)
    reporter = TqdmReporter()
    try:
        report = diagnose(cfg.data_dir, cfg, reporter, _cancel_on_ctrl_c())
    finally:
        reporter.close()
    out = args.out or make_unique_dir(cfg.output_dir or default_runs_dir(), time.strftime("%Y%m%d-%H%M%S-doctor"))
    files = report.save(out)
    print(report.summary())
    print("Written:\n" + "\n".join(f"  {f}" for f in files))
    return 0


def cmd_backbones(args) -> int:
    from flowerstudio.core.backbones import BACKBONES, weights_available_offline

    for name, spec in BACKBONES.items():
        ready = "ready offline" if weights_available_offline(name) else "downloads on first use"
        print(f"{name:<20} {spec.title:<45} {ready}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="flowerstudio", description="Train and use image classifiers.")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_retrain(sub)
    _add_predict(sub)
    _add_evaluate(sub)
    _add_find_lr(sub)
    _add_export(sub)
    _add_doctor(sub)
    sub.add_parser("backbones", help="list the backbones and whether they work offline")
    sub.add_parser("resume", help="finish an interrupted training stage from its last epoch").add_argument(
        "run", help="the run folder (or 'last' for the latest run)")
    args = parser.parse_args(argv)
    _print_any_file_name()
    from flowerstudio.core.checkpoints import CheckpointError
    from flowerstudio.core.errors import user_errors
    from flowerstudio.core.events import Cancelled

    try:
        return {"train": cmd_train, "retrain": cmd_retrain, "predict": cmd_predict, "evaluate": cmd_evaluate,
                "backbones": cmd_backbones, "resume": cmd_resume,
                "find-lr": cmd_find_lr, "export": cmd_export, "doctor": cmd_doctor}[args.command](args)
    except Cancelled:
        print("cancelled", file=sys.stderr)
        return 130
    except CheckpointError as exc:  # a bad model file: one line, exit status 2
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 2
    except user_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


def _print_any_file_name() -> None:
    """A file name that is not UTF-8 is printed as its original bytes (as ls does), not a crash."""
    errors = "surrogateescape" if os.name == "posix" else "backslashreplace"
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors=errors)
            except (ValueError, OSError):
                pass


if __name__ == "__main__":
    raise SystemExit(main())
