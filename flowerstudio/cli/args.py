"""The command line's grammar: every command, flag and help text, in one place."""
from __future__ import annotations

import argparse

from flowerstudio.core.foundation.vocab import ExportFormat, InferenceEngine, Split, TrainMode

# Each maps a flag to a TrainConfig field; a flag left out keeps the config file's (or default) value.
TRAIN_FLAGS = [
    ("--backbone", "backbone", str, "backbone name (see 'flowerstudio backbones')"),
    ("--weights", "weights", str, "local pretrained weights file (.pth or .safetensors) instead of downloading"),
    ("--names", "names_file", str, "JSON mapping folder name -> display name (default: DATA/cat_to_name.json)"),
    ("--epochs", "epochs", int, "epochs to train (default 30 for the frozen stage on cached features, else 10)"),
    ("--batch-size", "batch_size", int, "photos per batch (default 32)"),
    ("--lr", "lr", float, "learning rate of the head (default 1e-3)"),
    ("--backbone-lr-factor", "backbone_lr_factor", float, "backbone lr = lr x this when it trains (default 0.1)"),
    ("--optimizer", "optimizer", str, "adam (default), adamw or sgd"),
    ("--weight-decay", "weight_decay", float, "weight decay (default 0)"),
    ("--step-size", "step_size", int, "StepLR: decay the lr every N epochs (default: after two-thirds of a "
                                      "frozen stage's epochs, else 10)"),
    ("--gamma", "gamma", float, "StepLR: decay factor (default 0.1)"),
    ("--input-size", "input_size", int, "input size in pixels (default 224)"),
    ("--val-fraction", "val_fraction", float, "validation share for a folder without a split (default 0.2)"),
    ("--seed", "seed", int, "random seed (default 0)"),
    ("--device", "device", str, "auto (default), cpu, cuda or cuda:N"),
    ("--workers", "workers", int, "data-loading worker processes (default 0)"),
    ("--inference-engine", "inference_engine", str, "frozen stage: what runs the backbone over the photos: auto "
                                                    "(default: onnxruntime on CPU, pytorch on CUDA), pytorch or onnxruntime"),
    ("--cache-views", "cache_views", int, "frozen stage: views per photo in the feature cache (1 = clean photo, "
                                          "default; more = + augmented copies)"),
    ("--resume-from", "resume_from", str, "start from a model file, a run folder, or 'best'/'last' of the latest run"),
    ("--output", "output_dir", str, "folder for run folders (default: your user data folder)"),
]
ALIASES = {"--output": ("--output-dir",)}  # the config file's field name for the runs folder
# The TrainConfig flags that decide what the doctor looks at (the scan, the backbone and its features).
DOCTOR_FIELDS = ("backbone", "weights", "names_file", "batch_size", "input_size", "val_fraction", "device",
                 "workers", "output_dir")


def _config_flags(p, keep=lambda dest: True) -> None:
    p.add_argument("data", help="dataset folder: DATA/train/<class>/ and DATA/valid/<class>/, or DATA/<class>/")
    p.add_argument("--config", help="JSON config file (e.g. a run's config.json); flags override it")
    for flag, dest, kind, help_ in TRAIN_FLAGS:
        if keep(dest):
            p.add_argument(flag, *ALIASES.get(flag, ()), dest=dest, type=kind, default=None, help=help_)


def _stage_flags(p, skip: tuple[str, ...] = ()) -> None:
    """The dataset, config file, TrainConfig flags and stage choice shared by 'train' and 'find-lr'."""
    _config_flags(p, lambda dest: dest not in skip)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--freeze", dest="train_mode", action="store_const", const=TrainMode.FROZEN,
                      help="the head-only stage: the backbone stays frozen (default)")
    mode.add_argument("--unfreeze", dest="train_mode", action="store_const", const=TrainMode.ALL,
                      help="fine-tune every layer (usually with --resume-from best)")
    mode.add_argument("--unfreeze-stages", dest="unfreeze_stages", type=int, metavar="K",
                      help="fine-tune the last K backbone stages plus the head")
    p.add_argument("--no-feature-cache", dest="feature_cache", action="store_false", default=None,
                   help="frozen stage: run every photo through the backbone every epoch")


def _engine(p) -> None:
    p.add_argument("--engine", type=InferenceEngine, choices=list(InferenceEngine), default=InferenceEngine.AUTO,
                   help="what runs the network: auto (default: onnxruntime on CPU, pytorch on CUDA), pytorch or "
                        "onnxruntime")


def _overwrite(p, what: str) -> None:
    p.add_argument("--overwrite", action="store_true", help=f"replace {what} if it exists (never the model in use "
                                                            "or a photo)")


def _labelling(sub) -> None:
    from flowerstudio.core.labelling.predict import TOP_K

    p = sub.add_parser("predict", help="label photos with a trained model")
    p.add_argument("model", help="model file (.safetensors), run folder, or 'best' for the latest run")
    p.add_argument("inputs", nargs="+", help="photos and/or folders (searched recursively)")
    p.add_argument("--top-k", type=int, default=TOP_K, help=f"classes listed per photo (default {TOP_K})")
    p.add_argument("--csv", help="write predictions to this CSV file")
    p.add_argument("--sort-into", metavar="DIR", help="copy each photo into DIR/<label>/ (a photo you reviewed in "
                                                      "the app goes to the class you gave it)")
    p.add_argument("--min-confidence", type=float, default=0.6, help="below it photos go to DIR/_uncertain/")
    p.add_argument("--move", action="store_true", help="move instead of copy with --sort-into")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto")
    _overwrite(p, "the CSV file (and allow sorting into a folder that holds other files)")
    _engine(p)
    p = sub.add_parser("evaluate", help="accuracy, per-class accuracy and confusion matrix on a labelled folder")
    p.add_argument("model")
    p.add_argument("data", help="labelled folder (class folders, or train/valid/test layout)")
    p.add_argument("--split", default=Split.AUTO, type=Split, choices=list(Split),
                   help="auto: test/ if present, else the run's own validation photos (all photos of a folder "
                        "the model was not trained on)")
    p.add_argument("--out", help="write report.json, per_class.csv, confusion.csv, mistakes.csv, photos.csv here")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--device", default="auto")
    _overwrite(p, "report files in --out")
    _engine(p)
    p = sub.add_parser("export", help="export a model to ONNX or TorchScript, with a JSON sidecar and a check")
    p.add_argument("model", help="model file (.safetensors), run folder, or 'best' for the latest run")
    p.add_argument("--format", dest="fmt", type=ExportFormat, choices=list(ExportFormat), default=ExportFormat.ONNX)
    p.add_argument("--out", help="output file (default: beside the model, e.g. best.onnx)")
    p.add_argument("--verify", nargs="+", metavar="FOLDER_OR_FILES",
                   help="photos to compare the exported model with PyTorch on")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    _overwrite(p, "the output file")
    p = sub.add_parser("undo-sort", help="take back a sort (--sort-into) or an addition of reviewed photos")
    p.add_argument("log", nargs="?", help="the sort log printed after the sort (default: the latest sort's)")


def _training(sub) -> None:
    p = sub.add_parser("train", help="train a classifier on a folder of class folders")
    _stage_flags(p)
    p.add_argument("--no-augment", action="store_true", help="switch every augmentation step off")
    p = sub.add_parser("continue", help="run the next stage the advice plans for a run (e.g. fine-tuning), or say "
                                        "why there is none")
    p.add_argument("run", help="the run folder, a model file in it, or 'best'/'last' for the latest run")
    p.add_argument("--advice", action="store_true", help="only print the advice and the plan; train nothing")
    p = sub.add_parser("retrain", help="train the head of a run again on its dataset as it is now (photos added "
                                       "since are the only ones run through the backbone)")
    p.add_argument("run", help="the run folder, a model file in it, or 'best'/'last' for the latest run")
    p.add_argument("--data", help="the dataset folder, when not the run's")
    p = sub.add_parser("resume", help="finish an interrupted training stage from its last epoch")
    p.add_argument("run", help="the run folder (or 'last' for the latest run)")
    p = sub.add_parser("find-lr", help="learning-rate range test: suggests a learning rate for a training stage")
    _stage_flags(p, skip=("lr",))
    p.add_argument("--start-lr", type=float, default=1e-7)
    p.add_argument("--end-lr", type=float, default=1.0)
    p.add_argument("--steps", type=int, default=100, help="mini-batches to run (default 100)")
    p.add_argument("--csv", help="write the curve (lr, smoothed loss) to this CSV file")
    _overwrite(p, "the CSV file")


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="flowerstudio", description="Train and use image classifiers.")
    sub = top.add_subparsers(dest="command", required=True)
    _training(sub)
    _labelling(sub)
    p = sub.add_parser("doctor", help="find likely mislabelled photos, duplicates (and train/validation leaks) "
                                      "and outliers in a dataset")
    _config_flags(p, lambda dest: dest in DOCTOR_FIELDS)
    p.add_argument("--out", help="folder for label_issues.csv, duplicates.csv, outliers.csv and summary.json "
                                 "(default: a new <time>-doctor folder in the runs folder)")
    p.add_argument("--run", help="the run whose split says which photos are training and validation photos "
                                 "(default: the latest run on this dataset, if any)")
    _overwrite(p, "report files in --out")
    sub.add_parser("backbones", help="list the backbones and whether they work offline")
    return top
