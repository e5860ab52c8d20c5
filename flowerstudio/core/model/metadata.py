"""Checks on a model file's metadata before anything trusts it.

A model file can come from anywhere (a download, a colleague, an edited file), so each
field is checked for type and range; the first wrong one is reported by name. Plain
Python: the GUI reads model metadata before torch loads.
"""
from __future__ import annotations

import math
from typing import Any, Callable

from flowerstudio.core.foundation.vocab import TrainMode

STAGES = tuple(m.value for m in TrainMode)

MIN_INPUT_SIZE, MAX_INPUT_SIZE = 32, 1024  # the range TrainConfig accepts
MAX_CLASSES = 100_000
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.05, 20.0  # the range calibration.py searches for T
# What a model file made before calibration says about its confidences.
NO_TEMPERATURE = "no temperature in this model file (made before calibration): confidences are the raw softmax (T = 1)"


class MetadataError(ValueError):
    """One metadata field is wrong: ``field`` names it, the message says how."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        super().__init__(f"metadata field '{field}' {problem}")


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_real(v) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _text(v) -> bool:
    return isinstance(v, str)


def _is_bool(v) -> bool:
    return isinstance(v, bool)


def _texts(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


def _three_reals(v) -> bool:
    return isinstance(v, list) and len(v) == 3 and all(_is_real(x) for x in v)


# field -> (required, check, what it must be)
_FIELDS: dict[str, tuple[bool, Callable[[Any], bool], str]] = {
    "backbone": (True, lambda v: _text(v) and 0 < len(v) <= 100, "must be a backbone name"),
    "classes": (True, lambda v: _texts(v) and 0 < len(v) <= MAX_CLASSES and all(v) and len(set(v)) == len(v),
                "must be a list of distinct, non-empty class folder names"),
    "display_names": (True, _texts, "must be a list of names (text)"),
    "input_size": (True, lambda v: _is_int(v) and MIN_INPUT_SIZE <= v <= MAX_INPUT_SIZE,
                   f"must be a whole number of pixels from {MIN_INPUT_SIZE} to {MAX_INPUT_SIZE}"),
    "mean": (True, lambda v: _three_reals(v) and all(0 <= x <= 1 for x in v),
             "must be 3 numbers from 0 to 1 (one per colour channel)"),
    "std": (True, lambda v: _three_reals(v) and all(0 < x <= 1 for x in v),
            "must be 3 numbers above 0, at most 1 (one per colour channel)"),
    "best_val_acc": (False, lambda v: _is_real(v) and 0 <= v <= 1, "must be a number from 0 to 1"),
    "epoch": (False, lambda v: _is_int(v) and 0 <= v <= 1_000_000, "must be a whole number of epochs"),
    "stage": (False, lambda v: v is None or v in ("", *STAGES), f"must be one of {', '.join(STAGES)}"),
    "config": (False, lambda v: isinstance(v, dict), "must be a JSON object"),
    "app_version": (False, _text, "must be text"),
    "torch_version": (False, _text, "must be text"),
    "created": (False, _text, "must be text"),
    "format_version": (False, lambda v: _is_int(v) and v >= 1, "must be a whole number from 1"),
    "temperature": (False, lambda v: _is_real(v) and MIN_TEMPERATURE <= v <= MAX_TEMPERATURE,
                    f"must be a number from {MIN_TEMPERATURE} to {MAX_TEMPERATURE}"),
    "calibrated": (False, _is_bool, "must be true or false"),
    "calibration": (False, _text, "must be text"),
    "resize": (False, lambda v: _is_int(v) and 0 <= v <= 4 * MAX_INPUT_SIZE, "must be a whole number of pixels"),
    "val_correct": (False, lambda v: _is_int(v) and v >= -1, "must be a whole number of photos"),
    "val_total": (False, lambda v: _is_int(v) and v >= -1, "must be a whole number of photos"),
    "val_loss": (False, lambda v: v is None or (_is_real(v) and v >= 0), "must be a number from 0"),
    "val_confusion": (False, lambda v: v is None or (isinstance(v, list) and all(
        isinstance(row, list) and all(_is_int(n) and n >= 0 for n in row) for row in v)),
        "must be a table of photo counts"),
}


def parse_format_version(raw: Any) -> int:
    """The header's format_version (a string of digits) as an int; MetadataError otherwise."""
    if not isinstance(raw, str) or not raw.strip().isdigit():
        raise MetadataError("format_version", f"must be a whole number, not {_show(raw)}")
    return int(raw)


def checked_fields(data: Any, known: set[str]) -> dict[str, Any]:
    """The fields of ``known`` found in ``data`` (the decoded JSON), each checked; MetadataError at the first wrong one."""
    if not isinstance(data, dict):
        raise MetadataError("flowerstudio", f"must be a JSON object, not {type(data).__name__}")
    for name, (required, ok, must) in _FIELDS.items():
        if name not in data:
            if required:
                raise MetadataError(name, "is missing")
            continue
        if not ok(data[name]):
            raise MetadataError(name, f"{must}, not {_show(data[name])}")
    if len(data["display_names"]) != len(data["classes"]):
        raise MetadataError("display_names", f"has {len(data['display_names'])} names for "
                                             f"{len(data['classes'])} classes")
    if data.get("calibrated") and "temperature" not in data:
        raise MetadataError("temperature", "is missing, but 'calibrated' says one was fitted")
    out = {k: v for k, v in data.items() if k in known}
    out["mean"], out["std"] = [float(x) for x in data["mean"]], [float(x) for x in data["std"]]
    if out.get("stage") is not None:
        out["stage"] = TrainMode(out["stage"]) if out["stage"] else None
    if data.get("val_confusion") is not None and (len(data["val_confusion"]) != len(data["classes"]) or any(
            len(row) != len(data["classes"]) for row in data["val_confusion"])):
        raise MetadataError("val_confusion", f"must have {len(data['classes'])} rows and columns")
    if data.get("val_total", -1) >= 0 and data.get("val_correct", -1) > data["val_total"]:
        raise MetadataError("val_correct", f"is more than val_total ({data['val_total']})")
    if "temperature" in data:
        out["temperature"] = float(data["temperature"])
    else:  # an older file: T = 1, and the file says why
        out["temperature"], out["calibrated"], out["calibration"] = 1.0, False, NO_TEMPERATURE
    return out
