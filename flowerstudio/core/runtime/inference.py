"""A frozen network's forward pass outside training (feature extraction, prediction), on the engine
that runs it fastest.

On CPU that is ONNX Runtime: on this project's 2-core machine it runs every registry backbone as fast
as or faster than PyTorch's fused, channels-last forward (EfficientNet-Lite0 ~2.7x at batch 32;
benchmarks/README.md, engines), with the same outputs within 1e-4. PyTorch stays for training, on
CUDA, and as the fallback: an export or session that fails costs one log line, never a result.

The exported graph is kept in the cache folder, one entry folder per graph beside the feature cache's
(cachedisk.py: counted in its size cap, evicted least recently used first, removed by "Clear cache"),
keyed by the network's layout and weights, the input size, the opset and the onnxruntime and torch
versions: the export (seconds) is paid once per model, not once per run.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import warnings
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from flowerstudio.core.foundation.atomic import atomic_write_bytes
from flowerstudio.core.foundation.cachedisk import default_cache_dir, evict, mark_used
from flowerstudio.core.foundation.filelock import locked
from flowerstudio.core.foundation.fsnames import json_bytes
from flowerstudio.core.model.fusion import fuse_for_inference
from flowerstudio.core.model.classifier import batch_to_device, to_device
from flowerstudio.core.model.static_padding import with_static_padding
from flowerstudio.core.foundation.vocab import InferenceEngine

GRAPH_VERSION = 2  # 2: TF-style padding exported as constants (static_padding.py)
OPSET = 17
INPUT, OUTPUT = "images", "outputs"
GRAPH_FILE = "graph.onnx"

log = logging.getLogger(__name__)


def choose_engine(engine: InferenceEngine | str, device: torch.device) -> InferenceEngine:
    """The engine that runs: ``auto`` is ONNX Runtime on CPU and PyTorch elsewhere."""
    engine = InferenceEngine(engine)
    if engine == InferenceEngine.AUTO:
        return InferenceEngine.ONNXRUNTIME if device.type == "cpu" else InferenceEngine.PYTORCH
    return engine


class InferenceNet:
    """``module``'s forward pass for inference: a float32 NCHW batch in, its outputs out.

    Works on a fused copy (fusion.py), so the caller's module is untouched and may go on
    training. ONNX Runtime's graph is exported, or found in the cache, at the first batch, of the
    network as it is then: a run whose features are all cached never exports anything, and one whose
    graph is cached never makes the fused copy (a deep copy: ~0.1 s for EfficientNet-Lite0).

    ``module`` may also be a function that builds it, with ``key`` naming the network (e.g. a model
    file's content, model_file_key()): then, when the cache holds that graph, the PyTorch network is
    never built at all — importing timm and building it were ~3 s of a 2,000-photo CLI run's 25.
    """

    def __init__(self, module: nn.Module | Callable[[], nn.Module], device: torch.device,
                 engine: InferenceEngine | str = InferenceEngine.AUTO, key: Optional[dict] = None):
        self.device = device
        self.engine = choose_engine(engine, device)
        self._module = module if isinstance(module, nn.Module) else None
        self._build = module if self._module is None else (lambda: self._module)
        self._net: Optional[nn.Module] = None
        self._key = key
        self._session = None
        if self.engine == InferenceEngine.ONNXRUNTIME and device.type != "cpu":
            self._fall_back(f"this onnxruntime runs on the CPU only, and the device is {device}")
        elif self.engine == InferenceEngine.PYTORCH:
            self.net = to_device(self.net, device)

    @property
    def net(self) -> nn.Module:
        """The fused PyTorch network, built on first use."""
        if self._net is None:
            self._net = fuse_for_inference(self._build()).cpu()
        return self._net

    @net.setter
    def net(self, value: nn.Module) -> None:
        self._net = value

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.engine == InferenceEngine.ONNXRUNTIME:
            try:
                if self._session is None:
                    self._session = self._open(tuple(x.shape[1:]))
                array = x.detach().cpu().contiguous().numpy()
                return torch.from_numpy(self._session.run([OUTPUT], {INPUT: array})[0])
            except Exception as exc:  # the PyTorch forward gives the same numbers, only slower
                self._fall_back(f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
        with torch.inference_mode():
            return self.net(batch_to_device(x, self.device))

    def _open(self, shape: tuple[int, ...]):
        # A module given as is is named by a hash of its own weights (~10 ms), not of the fused copy.
        key = graph_key(self._module, shape) if self._key is None else {**self._key, **_versions(shape)}
        return open_session(lambda: self.net, shape, key)

    def _fall_back(self, why: str) -> None:
        log.warning("ONNX Runtime not used (%s); running the network with PyTorch", why)
        self.engine, self._session = InferenceEngine.PYTORCH, None
        self.net = to_device(self.net, self.device)


def model_file_key(path: str | Path) -> dict:
    """Names the network of a model file by the file's content and the code that builds it from it
    (the app's, timm's and torchvision's versions; GRAPH_VERSION goes up when the app changes how)."""
    from importlib.metadata import version

    from flowerstudio import __version__

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return {"graph": GRAPH_VERSION, "model_file": h.hexdigest(), "flowerstudio": __version__,
            "timm": version("timm"), "torchvision": version("torchvision")}


def _versions(shape: tuple[int, ...]) -> dict:
    import onnxruntime

    return {"input": list(shape), "opset": OPSET, "onnxruntime": onnxruntime.__version__, "torch": torch.__version__}


def network_digest(net: nn.Module) -> str:
    """A fingerprint of what the network computes: its layout (repr: layers, padding, activations)
    and every weight and buffer. Hashing the values, not a file's name and date, means any two
    identical networks share a graph and a changed one never reuses a stale graph (~10 ms per 20 MB)."""
    h = hashlib.sha256(repr(net).encode())
    for name, t in net.state_dict().items():
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}".encode())
        h.update(t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().data)
    return h.hexdigest()


def graph_key(net: nn.Module, shape: tuple[int, ...]) -> dict:
    """Everything that decides the exported graph (and whether this onnxruntime can run it)."""
    return {"graph": GRAPH_VERSION, "network": type(net).__name__, "digest": network_digest(net), **_versions(shape)}


def graph_is_cached(key: dict, shape: tuple[int, ...]) -> bool:
    """Whether the graph of the network ``key`` names, on inputs of ``shape``, is in the cache."""
    return (graph_folder({**key, **_versions(shape)}) / GRAPH_FILE).is_file()


def graph_folder(key: dict, root: Path | None = None) -> Path:
    """The cache entry folder of a graph: 20 hex digits, as cachedisk.py counts and evicts them."""
    name = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:20]
    return Path(root or default_cache_dir()) / name


def open_session(net: nn.Module | Callable[[], nn.Module], shape: tuple[int, ...], key: Optional[dict] = None):
    """An ONNX Runtime session for ``net`` on inputs of ``shape`` (C, H, W), exporting the graph
    unless the cache has it. ``net`` may be a function that builds it, with ``key`` naming it: it is
    called only when a graph must be exported. A damaged cached graph is exported again, never trusted."""
    if key is None:
        key = graph_key(net, shape)
    folder = graph_folder(key)
    path = folder / GRAPH_FILE

    def export() -> None:
        export_graph(net if isinstance(net, nn.Module) else net(), shape, path, key)

    with locked(folder / "graph.lock"):  # under torchrun one rank exports, the others wait and load it
        fresh = not path.is_file()
        if fresh:
            export()
    mark_used(folder)
    try:
        session = _session(path)
    except Exception:
        if fresh:
            raise
        with locked(folder / "graph.lock"):
            export()
        session = _session(path)
    if fresh:
        evict(folder.parent, keep=folder)
    return session


def export_graph(net: nn.Module, shape: tuple[int, ...], path: Path, key: dict) -> None:
    """Write ``net`` as ONNX with a dynamic batch axis; the key goes beside it for people reading the cache."""
    buffer = io.BytesIO()
    net = with_static_padding(net, shape)
    # Batch 2 while tracing, so nothing is specialised to a batch of one. Normal mode: the caller may
    # be inside torch.inference_mode(), which tracing cannot run in.
    with torch.inference_mode(False), torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript-based exporter's deprecation notices
        torch.onnx.export(net, (torch.zeros(2, *shape),), buffer, dynamo=False, opset_version=OPSET,
                          do_constant_folding=True, input_names=[INPUT], output_names=[OUTPUT],
                          dynamic_axes={INPUT: {0: "batch"}, OUTPUT: {0: "batch"}})
    atomic_write_bytes(path, buffer.getvalue())
    atomic_write_bytes(path.parent / "key.json", json_bytes(key, indent=1, sort_keys=True))


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    # One thread per core torch would use (torchrun sets 1 per process). No busy-waiting between
    # operators: it measured the same for prediction (87 vs 83 photos/s, best of 6, 2 decoding
    # threads), leaves the cores to the decoding's turn between batches, and runs quietly beside the GUI.
    options.intra_op_num_threads = torch.get_num_threads()
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
