"""The labelling commands: predict, evaluate, export, undo-sort."""
from __future__ import annotations

import os
import sys

from flowerstudio.cli.outputs import output_file, output_folder, sort_folder
from flowerstudio.cli.report import TqdmReporter
from flowerstudio.core.foundation.errors import UserError
from flowerstudio.core.foundation.events import Cancelled
from flowerstudio.core.foundation.fsnames import display_path


def calibration_line(info) -> str:
    """What the confidences printed or used mean, for a model's info."""
    if info.calibrated:
        return f"confidences are calibrated (temperature {info.temperature:.3g})"
    return f"note: {info.calibration}"  # each note says why, and that T = 1


def cmd_predict(args, cancel) -> int:
    from flowerstudio.core.labelling.predict import list_images
    from flowerstudio.core.runs.folders import resolve_model_path
    from flowerstudio.core.runtime.distributed import Distributed

    paths = list_images(args.inputs)
    if not paths:
        raise UserError(f"No photos found in {', '.join(args.inputs)}.")
    model = resolve_model_path(args.model)
    dist = Distributed.from_env(args.device)  # under torchrun: this process's share, rank 0 merges
    try:
        if dist.is_main:  # checked before any photo is labelled
            if args.csv:
                output_file(args.csv, args.overwrite, protected=[model, *paths])
            if args.sort_into:
                sort_folder(args.sort_into, args.inputs, args.overwrite)
        return _predict(args, model, paths, dist, cancel)
    finally:
        dist.close()


def _predict(args, model, paths, dist, cancel) -> int:
    from flowerstudio.core.labelling import shards
    from flowerstudio.core.labelling.predict import Predictor, write_csv

    predictor = Predictor(model, str(dist.device(args.device) or args.device), args.engine)
    if dist.is_main:
        print(calibration_line(predictor.info), file=sys.stderr)
    reporter = TqdmReporter(quiet=not dist.is_main)
    try:
        result = predictor.predict(shards.share(paths, dist), args.batch_size, args.top_k, reporter, cancel)
    except Cancelled as stop:
        result = stop.partial  # what was labelled before the stop is written, then 130
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
    failed = _sort(args, job.predictions, predictor.info) if args.sort_into and not job.cancelled else 0
    mean = f" (mean confidence {job.mean_confidence:.1%})" if job.labelled else ""
    print(f"{'cancelled' if job.cancelled else 'done'}: {job.labelled} photos labelled{mean}, "
          f"{len(job.unreadable)} unreadable" + (f"; CSV {args.csv}" if args.csv else ""))
    if job.cancelled:
        return 130
    if not job.labelled and job.unreadable:  # a script must not take "nothing could be read" for success
        print(f"error: none of the {len(job.unreadable)} photos could be read", file=sys.stderr)
        return 1
    return 1 if job.unreadable or failed else 0  # the summary lists each photo that failed


def _sort(args, predictions, info) -> int:
    """Sort into --sort-into, the user's reviewed labels first; returns how many photos failed."""
    from flowerstudio.core.photos.review import ReviewStore, default_store_path
    from flowerstudio.core.photos.sort_log import sort_and_log

    store = ReviewStore.open(default_store_path())
    reviewed = {os.path.abspath(k): v for k, v in store.display_labels(info.classes, info.display_names).items()}
    mine = {p.path: reviewed[os.path.abspath(p.path)] for p in predictions if os.path.abspath(p.path) in reviewed}
    summary, log = sort_and_log(predictions, args.sort_into, args.min_confidence, args.move, info.display_names, mine)
    print(summary.summary())
    if log is not None:
        print(f"To take it back: flowerstudio undo-sort {log}")
    return len(summary.errors)


def cmd_evaluate(args, cancel) -> int:
    from flowerstudio.core.labelling.eval_report import FILES
    from flowerstudio.core.labelling.evaluate import evaluate
    from flowerstudio.core.labelling.predict import Predictor
    from flowerstudio.core.runs.folders import resolve_model_path

    out = output_folder(args.out, FILES, args.overwrite) if args.out else None
    model = resolve_model_path(args.model)
    reporter = TqdmReporter()
    try:
        report = evaluate(model, args.data, args.split, args.batch_size, args.device, reporter, cancel,
                          predictor=Predictor(model, args.device, args.engine))
    finally:
        reporter.close()
    rows = report.per_class()
    width = max(len(r.name) for r in rows)
    for r in rows:
        print(f"{r.name:<{width}}  {r.correct:>5}/{r.photos:<5} {r.accuracy:7.1%}  "
              f"{'-> ' + r.most_confused_with if r.most_confused_with else ''}")
    for note in report.notes:
        print(f"note: {note}")
    print(report.summary())
    return _saved(report.save(out)) if out is not None else 0


def _saved(outcome) -> int:
    written, failed = outcome
    if written:
        print("Written:\n" + "\n".join(f"  {display_path(p)}" for p in written))
    for line in failed:
        print(f"error: not written: {line}", file=sys.stderr)
    return 2 if failed else 0


def cmd_export(args, cancel) -> int:
    from flowerstudio.core.labelling.export import export_model
    from flowerstudio.core.labelling.predict import list_images
    from flowerstudio.core.runs.folders import resolve_model_path

    photos = list_images(args.verify) if args.verify else []
    if args.verify and not photos:
        raise UserError(f"No photos found in {', '.join(args.verify)} to check the export with.")
    result = export_model(resolve_model_path(args.model), args.out, args.fmt, photos, args.opset,
                          overwrite=args.overwrite, cancel=cancel)
    print(result.message)
    return 1 if result.verified is False else 0


def cmd_undo_sort(args, cancel) -> int:
    from flowerstudio.core.photos.sort_log import SORT, latest_log, undo_sort

    log = args.log or latest_log(SORT)
    if log is None:
        raise UserError("There is no sort to take back (every sort's log is undone already, or there was none).")
    result = undo_sort(log)
    print(result.summary())
    return 1 if result.kept else 0
