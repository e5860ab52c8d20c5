"""The training commands: train, continue, retrain, resume, find-lr."""
from __future__ import annotations

import os
import sys
import time

from flowerstudio.cli.args import TRAIN_FLAGS
from flowerstudio.cli.outputs import output_file
from flowerstudio.cli.report import TqdmReporter
from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.foundation.vocab import TrainMode


def config_from_args(args) -> TrainConfig:
    """The config file (if any), then every flag given on top of it."""
    cfg = TrainConfig.load(args.config) if args.config else TrainConfig()
    data = cfg.to_dict()
    data["data_dir"] = args.data
    for _, dest, _, _ in TRAIN_FLAGS:
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


def stage_line(result, seconds: float) -> str:
    """The one line that ends a stage: how it ended and the run's best model, exactly."""
    best = result.best.words() if result.best else "none"
    gained = "" if result.gained else " (no gain from this stage: the earlier model is kept)"
    return (f"{result.status}: best validation accuracy {best} at epoch {result.best_epoch}{gained}, "
            f"{len(result.history)} epochs in the run, {seconds:.0f}s, {len(result.bad_images)} bad images; "
            f"model {result.best_path}")


def cmd_train(args, cancel) -> int:
    from flowerstudio.core.training.trainer import train

    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun only rank 0 reports
    reporter = TqdmReporter(quiet=not main_rank)
    start = time.perf_counter()
    try:
        result = train(config_from_args(args), reporter, cancel)
    finally:
        reporter.close()
    if main_rank:
        print(stage_line(result, time.perf_counter() - start))
    return 0


def cmd_continue(args, cancel) -> int:
    from flowerstudio.core.runs.folders import resolve_model_path
    from flowerstudio.core.runs.record import RunRecord
    from flowerstudio.core.training.next_stage import advice_for_run, run_plan

    record = RunRecord.load(resolve_model_path(args.run).parent)
    advice = advice_for_run(record)
    print(f"{advice.result}\nNext: {advice.next_step}")
    if advice.plan is None or args.advice:
        return 0
    print(f"Running: {advice.plan.words()} (learning rate {advice.plan.lr:g})")
    reporter = TqdmReporter()
    start = time.perf_counter()
    try:
        result = run_plan(record, advice.plan, reporter, cancel)
    finally:
        reporter.close()
    print(stage_line(result, time.perf_counter() - start))
    return 0


def cmd_retrain(args, cancel) -> int:
    from flowerstudio.core.training.retrain import retrain_head

    reporter = TqdmReporter()
    start = time.perf_counter()
    try:
        result, verdict = retrain_head(args.run, reporter, cancel, data_dir=args.data)
    finally:
        reporter.close()
    print(stage_line(result, time.perf_counter() - start))
    print(verdict.message)
    return 0


def cmd_resume(args, cancel) -> int:
    from flowerstudio.core.runs.folders import resolve_model_path
    from flowerstudio.core.training.trainer import resume

    reporter = TqdmReporter()
    start = time.perf_counter()
    try:
        result = resume(resolve_model_path(args.run).parent, reporter, cancel)
    finally:
        reporter.close()
    print(stage_line(result, time.perf_counter() - start))
    return 0


def cmd_find_lr(args, cancel) -> int:
    from flowerstudio.core.foundation.csvfile import write_csv_file
    from flowerstudio.core.training.lr_finder import find_lr

    cfg = config_from_args(args)
    if not 0 < args.start_lr < args.end_lr or args.steps < 2:
        print("error: need 0 < --start-lr < --end-lr and --steps of at least 2", file=sys.stderr)
        return 2
    csv_path = output_file(args.csv, args.overwrite) if args.csv else None
    reporter = TqdmReporter()
    try:
        result = find_lr(cfg, args.start_lr, args.end_lr, args.steps, reporter, cancel)
    finally:
        reporter.close()
    if csv_path:
        write_csv_file(csv_path, ("lr", "loss"), zip(result.lrs, result.losses))
    ending = "loss diverged" if result.stopped_early else "full range"
    print(f"suggested learning rate {result.suggested_lr:.2e} ({len(result.lrs)} steps from {args.start_lr:.0e}, "
          f"{ending})" + (f"; curve in {csv_path}" if csv_path else ""))
    return 0
