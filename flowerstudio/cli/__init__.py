"""Command line: ``flowerstudio train|continue|retrain|resume|predict|evaluate|export|undo-sort|find-lr|doctor|
backbones`` (also ``python -m flowerstudio``).

Every command ends one of four ways: 0 done; 1 done, but some photos failed (each is listed); 2 the input
or the disk is wrong (one line saying what and what to do, never a traceback); 130 stopped (Ctrl-C or
SIGTERM, which stop like the app's Stop button: what was done is kept and said).
"""
from __future__ import annotations

import os
import signal
import sys
import time
from typing import Optional, Sequence

from flowerstudio.cli.args import parser
from flowerstudio.cli.labelling import cmd_evaluate, cmd_export, cmd_predict, cmd_undo_sort
from flowerstudio.cli.report import TqdmReporter
from flowerstudio.cli.training import (
    cmd_continue, cmd_find_lr, cmd_resume, cmd_retrain, cmd_train, config_from_args, stage_line,
)
from flowerstudio.core.foundation.events import CancelToken

__all__ = ["main", "TqdmReporter"]


def cmd_doctor(args, cancel) -> int:
    from flowerstudio.cli.labelling import _saved
    from flowerstudio.cli.outputs import output_folder
    from flowerstudio.core.doctor.diagnose import FILES, diagnose
    from flowerstudio.core.foundation.atomic import make_unique_dir
    from flowerstudio.core.runs.folders import default_runs_dir, previous_run, resolve_model_path
    from flowerstudio.core.runs.record import RunRecord

    cfg = config_from_args(args)
    if args.out:
        output_folder(args.out, FILES, args.overwrite)
    run_dir = resolve_model_path(args.run).parent if args.run else previous_run(cfg.output_dir or None, cfg.data_dir)
    reporter = TqdmReporter()
    try:
        report = diagnose(cfg.data_dir, cfg, reporter, cancel, RunRecord.load(run_dir) if run_dir else None)
    finally:
        reporter.close()
    print(report.summary())
    out = args.out or make_unique_dir(cfg.output_dir or default_runs_dir(), time.strftime("%Y%m%d-%H%M%S-doctor"))
    return _saved(report.save(out))


def cmd_backbones(args, cancel) -> int:
    from flowerstudio.core.model.backbones import BACKBONES, weights_available_offline

    for name, spec in BACKBONES.items():
        ready = "ready offline" if weights_available_offline(name) else "downloads on first use"
        print(f"{name:<20} {spec.title:<45} {ready}")
    return 0


COMMANDS = {"train": cmd_train, "continue": cmd_continue, "retrain": cmd_retrain, "resume": cmd_resume,
            "predict": cmd_predict, "evaluate": cmd_evaluate, "export": cmd_export, "undo-sort": cmd_undo_sort,
            "find-lr": cmd_find_lr, "doctor": cmd_doctor, "backbones": cmd_backbones}


def stop_on_signals() -> CancelToken:
    """Ctrl-C and SIGTERM stop like the app's Stop button (after the current batch; what was done is kept);
    a second Ctrl-C aborts at once."""
    token = CancelToken()

    def handler(signum, _frame):
        if token.cancelled and signum == signal.SIGINT:
            raise KeyboardInterrupt
        print(f"\nstopping after this batch ({'Ctrl-C again to abort' if signum == signal.SIGINT else 'SIGTERM'})",
              file=sys.stderr, flush=True)
        token.cancel()

    signal.signal(signal.SIGINT, handler)
    if hasattr(signal, "SIGTERM"):
        signal.signal(signal.SIGTERM, handler)
    return token


def show_stopped(partial) -> None:
    """What a stopped command had done, in its own words."""
    if isinstance(partial, tuple):  # a retrain: (its result, the verdict)
        partial, verdict = partial
        print(verdict.message)
    if hasattr(partial, "best_epoch"):
        print(stage_line(partial, 0).replace(", 0s,", ","))
    elif hasattr(partial, "suggested_lr") and partial.lrs:
        print(f"stopped: {len(partial.lrs)} steps measured, suggested learning rate {partial.suggested_lr:.2e}")


def main(argv: Optional[Sequence[str]] = None) -> int:
    from flowerstudio.core.foundation.errors import UserError
    from flowerstudio.core.runtime.torch_pair import import_torchvision

    try:
        import_torchvision()  # the parser's defaults import it already: a mismatched pair is said first, in words
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args = parser().parse_args(argv)
    _print_any_file_name()
    from flowerstudio.core.foundation.errors import describe
    from flowerstudio.core.foundation.events import Cancelled
    from flowerstudio.core.foundation.notify import reporting_to

    reporter = TqdmReporter()
    try:
        with reporting_to(reporter):  # warnings the core logs along the way are printed, not lost
            return COMMANDS[args.command](args, stop_on_signals())
    except Cancelled as stop:
        show_stopped(stop.partial)
        print("stopped", file=sys.stderr)
        return 130
    except (UserError, OSError) as exc:  # bad input, a full or read-only disk: one line, what to do
        print(f"error: {describe(exc)}", file=sys.stderr)
        return 2


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
