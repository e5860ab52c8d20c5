"""Export a trained model to ONNX or TorchScript, with a JSON sidecar and a numeric check.

The exported network takes a float32 NCHW RGB batch (any batch size), already
resized, cropped and normalised as the sidecar describes, and returns calibrated softmax
probabilities [batch, classes] (the model's temperature is folded in: softmax(logits / T),
the confidences the app shows) — so a consumer needs no knowledge of logits.
The check runs the exported file on real photos and compares with PyTorch.
"""
from __future__ import annotations

import errno
import importlib.util
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

import flowerstudio
from flowerstudio.core.foundation.errors import UserError, disk_errors
from flowerstudio.core.foundation.atomic import atomic_path, atomic_write_bytes
from flowerstudio.core.foundation.events import CancelToken
from flowerstudio.core.foundation.fsnames import json_bytes, json_text
from flowerstudio.core.model.static_padding import with_static_padding
from flowerstudio.core.foundation.vocab import ExportFormat

SUFFIX = {f: f.suffix for f in ExportFormat}
CHECK_PHOTOS = 32  # enough to catch a wrong export, quick on a laptop
TOLERANCE = 1e-4  # largest allowed difference in any probability
INPUT_NAME, OUTPUT_NAME = "images", "probabilities"
INSTALL_HINT = "pip install flowerstudio[export]"


class ExportError(UserError, ValueError):
    """The export cannot be done (unknown format, missing package, exporter failure); the message says why."""


@dataclass
class ExportResult:
    """Where the files went and how the check went. ``verified`` is None when no check ran."""

    path: str
    sidecar_json_path: str
    verified: Optional[bool]
    max_abs_diff: Optional[float]
    message: str


class Probabilities(nn.Module):
    """The classifier with calibrated softmax on top: what the exported file computes."""

    def __init__(self, model: nn.Module, temperature: float = 1.0) -> None:
        super().__init__()
        self.model = model
        # A constant in the graph: the logits are multiplied by 1/T before the softmax.
        self.register_buffer("inverse_temperature", torch.tensor(1.0 / temperature))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x) * self.inverse_temperature, dim=1)


def default_out_path(model_path: str | os.PathLike, fmt: str) -> Path:
    """Beside the model file: best.safetensors -> best.onnx, best.v2.safetensors -> best.v2.onnx."""
    path = Path(model_path)
    return path.with_name(path.stem + SUFFIX[fmt])  # the full stem: best.v1 and best.v2 stay apart


def sidecar(info, fmt: str, source: str, opset: Optional[int]) -> dict:
    """Everything a consumer needs to feed the exported model and read its output."""
    size, pre = info.input_size, info.preprocessing
    return {
        "format": fmt, "onnx_opset": opset, "backbone": info.backbone,
        "input": {"name": INPUT_NAME, "layout": "NCHW float32 RGB", "shape": ["batch", 3, size, size],
                  "input_size": size, "mean": list(info.mean), "std": list(info.std)},
        "preprocessing": [
            "decode as 8-bit RGB (EXIF orientation applied, transparency on white)",
            f"resize the short side to {pre.resize} px (Pillow bilinear with antialiasing), keeping the "
            "aspect ratio",
            f"centre crop {size}x{size}",
            "scale pixel values to [0, 1] (divide by 255)",
            f"normalise each channel: (x - mean) / std with mean {list(info.mean)} and std {list(info.std)}",
        ],
        "resize_short_side": pre.resize, "center_crop": size,
        "output": {"name": OUTPUT_NAME, "shape": ["batch", len(info.classes)],
                   "meaning": "calibrated softmax probabilities (sum to 1), softmax(logits / temperature), "
                              "one per class in the order of 'classes'"},
        # The temperature is already in the graph; 'calibrated' false: T = 1, see 'calibration'.
        "temperature": info.temperature, "calibrated": info.calibrated, "calibration": info.calibration,
        "classes": list(info.classes), "display_names": list(info.display_names),
        "best_val_acc": info.best_val_acc, "source_model": source,
        "flowerstudio_version": flowerstudio.__version__, "torch_version": torch.__version__,
    }


def export_model(
    model_path: str | os.PathLike,
    out_path: str | os.PathLike | None = None,
    fmt: str = "onnx",
    verify_images: Sequence[str | os.PathLike] = (),
    opset: int = 17,
    overwrite: bool = False,
    cancel: Optional[CancelToken] = None,
) -> ExportResult:
    """Write ``out_path`` (default: beside the model) and ``<out_path>.json``; check it on ``verify_images``.

    ``model_path``: a model file or a run folder. The check passes when no probability
    differs from PyTorch's by more than TOLERANCE (1e-4). An existing file is never replaced
    unless ``overwrite`` (ExportError otherwise). ``cancel`` stops it (raises Cancelled)
    with nothing written: the file is exported and checked under a temporary name first.
    """
    from flowerstudio.core.model.model_file import load_model
    from flowerstudio.core.runs.folders import resolve_model_path

    if fmt not in SUFFIX:
        raise ExportError(f"unknown export format '{fmt}'; choose one of: {', '.join(SUFFIX)}")
    fmt = ExportFormat(fmt)
    model_path = resolve_model_path(model_path)  # a run folder means its best model
    model, info = load_model(model_path, "cpu")
    out = Path(out_path) if out_path else default_out_path(model_path, fmt)
    side = Path(str(out) + ".json")
    if any(os.path.realpath(p) == os.path.realpath(model_path) for p in (out, side)):
        raise ExportError(f"{out} is the model being exported: it is never overwritten; choose another file name")
    taken = [p for p in (out, side) if p.exists()]
    if taken and not overwrite:
        raise ExportError(f"{taken[0]} already exists; choose another file name, or allow overwriting "
                          "(--overwrite on the command line)")
    cancel = cancel or CancelToken()
    out.parent.mkdir(parents=True, exist_ok=True)
    net = Probabilities(model, info.temperature).eval()
    # Batch 2 while tracing, so nothing is specialised to a batch of one.
    example = torch.zeros(2, 3, info.input_size, info.input_size)
    meta = sidecar(info, fmt, str(Path(model_path).resolve()), opset if fmt == "onnx" else None)
    cancel.raise_if_cancelled()
    try:
        with atomic_path(out, overwrite=overwrite) as tmp, disk_errors(out):  # renamed onto ``out`` when all went well
            if fmt == "onnx":  # the graph is for this input size: TF-style padding as constants, ~1.35x faster
                _export_onnx(with_static_padding(net, tuple(example.shape[1:])), example, tmp, opset, meta)
            else:
                _export_torchscript(net, example, tmp, meta)
            cancel.raise_if_cancelled()
            verified, diff, check = _verify(net, info, tmp, fmt, verify_images, cancel)
    except FileExistsError as exc:
        raise ExportError(f"{out} appeared while exporting; nothing was overwritten") from exc
    atomic_write_bytes(side, json_bytes(meta, indent=2))
    kind = "ONNX" if fmt == "onnx" else "TorchScript"
    message = f"{kind} model written to {out} (sidecar {side.name}); {check}"
    return ExportResult(str(out), str(side), verified, diff, message)


def _export_onnx(net: nn.Module, example: torch.Tensor, out: Path, opset: int, meta: dict) -> None:
    """Export with a dynamic batch axis; ``meta`` gets the opset actually written and goes into the file."""
    if importlib.util.find_spec("onnx") is None:
        raise ExportError(f"ONNX export needs the 'onnx' package: {INSTALL_HINT}")
    names = dict(input_names=[INPUT_NAME], output_names=[OUTPUT_NAME])
    try:
        # The TorchScript-based exporter: fast, needs only 'onnx', honours the opset exactly.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (example,), str(out), dynamo=False, opset_version=opset, do_constant_folding=True,
                              dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}}, **names)
    except Exception as legacy_exc:  # removed in a future torch: fall back to the torch.export-based one
        _raise_if_disk_fault(legacy_exc, out)  # a full or read-only disk fails the other exporter just the same
        if importlib.util.find_spec("onnxscript") is None:
            raise ExportError(f"ONNX export failed ({legacy_exc}); the newer exporter needs 'onnxscript': "
                              f"{INSTALL_HINT}") from legacy_exc
        try:
            batch = torch.export.Dim("batch", min=1)
            program = torch.onnx.export(net, (example,), dynamo=True, opset_version=max(opset, 18),
                                        dynamic_shapes={"x": {0: batch}}, verbose=False, **names)
            program.save(str(out), external_data=False)
        except Exception as exc:
            raise ExportError(f"ONNX export failed: {legacy_exc}; newer exporter: {exc}") from exc
    import onnx

    proto = onnx.load(str(out))
    # The sidecar also travels inside the file, so a lone .onnx still says what it is.
    # The newer exporter may raise the opset: record the one written.
    meta["onnx_opset"] = max((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), default=opset)
    entry = proto.metadata_props.add()
    entry.key, entry.value = "flowerstudio", json_text(meta)
    out.write_bytes(proto.SerializeToString())  # ``out`` is export_model's private temporary file


def _raise_if_disk_fault(exc: BaseException, out: Path) -> None:
    """Re-raise the OSError inside ``exc`` (export_model names the file), if there is one."""
    seen = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno is not None:
            raise seen from exc
        seen = seen.__cause__ or seen.__context__
    for code in (errno.ENOSPC, errno.EROFS, errno.EACCES):  # some exporters keep only the message
        if f"[Errno {code}]" in str(exc):
            raise OSError(code, os.strerror(code), str(out)) from exc


def _export_torchscript(net: nn.Module, example: torch.Tensor, out: Path, meta: dict) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit is deprecated upstream but still what C++/mobile loaders read
        with torch.no_grad():
            traced = torch.jit.trace(net, (example,), check_trace=False)  # _verify does a real check
        torch.jit.save(traced, str(out), _extra_files={"flowerstudio.json": json_text(meta)})


def _verify(net, info, out: Path, fmt: str, images: Sequence,
            cancel: Optional[CancelToken] = None) -> tuple[Optional[bool], Optional[float], str]:
    """Compare the exported file's probabilities with PyTorch's on real photos."""
    from flowerstudio.core.photos.imageio import ImageLoadError, load_image
    from flowerstudio.core.runtime.transforms import eval_transform

    if not images:
        return None, None, "not checked (no photos given to check with)"
    if fmt == "onnx" and importlib.util.find_spec("onnxruntime") is None:
        return None, None, f"not checked: onnxruntime is not installed ({INSTALL_HINT})"
    pre = info.preprocessing
    tf = eval_transform(pre)
    tensors, unreadable = [], 0
    for path in images:
        if cancel is not None:
            cancel.raise_if_cancelled()
        try:
            tensors.append(tf(load_image(path, min_side=pre.resize)))  # as the Predictor
        except (ImageLoadError, OSError):
            unreadable += 1
    if not tensors:
        return None, None, f"not checked: none of the {len(images)} photos could be read"
    run = _runner(out, fmt)
    diff = 0.0
    for i in range(0, len(tensors), 16):
        if cancel is not None:
            cancel.raise_if_cancelled()
        x = torch.stack(tensors[i:i + 16])
        with torch.inference_mode():
            ref = net(x).numpy()
        diff = max(diff, float(np.abs(run(x.numpy()) - ref).max()))
    # A batch of one too: a batch axis that was fixed while exporting would fail here.
    with torch.inference_mode():
        ref = net(tensors[0][None]).numpy()
    diff = max(diff, float(np.abs(run(tensors[0][None].numpy()) - ref).max()))
    ok = diff <= TOLERANCE
    skipped = f", {unreadable} unreadable skipped" if unreadable else ""
    verdict = "passed" if ok else f"FAILED (over the {TOLERANCE:g} tolerance)"
    return ok, diff, f"check on {len(tensors)} photos{skipped}: {verdict}, max probability difference {diff:.2e}"


def _runner(out: Path, fmt: str):
    """A function: numpy batch -> numpy probabilities, using the exported file alone."""
    if fmt == "onnx":
        import onnxruntime as ort

        options = ort.SessionOptions()
        # No busy-waiting threads: this runs inside a desktop app, beside the GUI.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(out), options, providers=["CPUExecutionProvider"])
        return lambda x: session.run([OUTPUT_NAME], {INPUT_NAME: x})[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = torch.jit.load(str(out), map_location="cpu").eval()

    def run(x: np.ndarray) -> np.ndarray:
        # Plain execution: the profiling JIT would spend seconds optimising for a handful of calls.
        with torch.inference_mode(), torch.jit.optimized_execution(False):
            return loaded(torch.from_numpy(x)).numpy()

    return run


def choose_check_photos(folder: str | os.PathLike, n: int = CHECK_PHOTOS) -> list[str]:
    """Up to ``n`` photos of ``folder`` to check an export with, evenly spaced through the sorted
    listing, so a folder of class folders gives photos of many classes, not all of the first."""
    from flowerstudio.core.labelling.predict import list_images

    if n <= 0:
        return []
    photos = list_images([folder])
    if len(photos) <= n:
        return photos
    step = len(photos) / n
    return [photos[int(i * step)] for i in range(n)]
