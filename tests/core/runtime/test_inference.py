"""The inference engine (core/inference.py): ONNX Runtime gives PyTorch's outputs for every registry
backbone, its graph is exported once and then read from the cache, and any failure falls back to
PyTorch with one log line."""
import logging

import numpy as np
import pytest
import torch
from torch import nn

from flowerstudio.core.runtime import inference
from flowerstudio.core.model.backbones import BACKBONES
from flowerstudio.core.model.model_file import ModelInfo
from modelfiles import save_model
from flowerstudio.core.runtime.featurecache import FeatureCache
from flowerstudio.core.runtime.inference import InferenceNet, choose_engine
from flowerstudio.core.model.classifier import build_classifier
from flowerstudio.core.labelling.predict import Predictor, list_images
from flowerstudio.core.model.preprocessing import Preprocessing, resize_for
from flowerstudio.core.runtime.transforms import eval_transform
from flowerstudio.core.foundation.vocab import InferenceEngine

CPU = torch.device("cpu")
SIZE = 64  # small: every backbone in the registry takes it, and exports in seconds


@pytest.fixture(autouse=True)
def _own_cache(tmp_path, monkeypatch):
    """Each test starts with an empty graph cache."""
    monkeypatch.setenv("FLOWERSTUDIO_CACHE_DIR", str(tmp_path / "cache"))


def _calibrated(name: str, classes: int = 4) -> nn.Module:
    """Random weights with BatchNorm statistics measured on random photos: random-init torchvision
    networks otherwise shrink every activation to ~1e-10 (MobileNetV3, EfficientNet-B0), where
    any two engines agree. No download: only speed and equivalence are tested."""
    torch.manual_seed(0)
    model = build_classifier(name, classes, pretrained=False)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.momentum = None  # running statistics = the average over the calibration batch
    with torch.no_grad():
        model.train()(torch.randn(8, 3, SIZE, SIZE))
    return model.eval()


def _photos(n: int = 3) -> torch.Tensor:
    return torch.randn(n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


class _Counting:
    """Wraps export_graph, counting the exports."""

    def __init__(self, monkeypatch):
        self.calls = 0
        real = inference.export_graph

        def counted(*args, **kw):
            self.calls += 1
            return real(*args, **kw)

        monkeypatch.setattr(inference, "export_graph", counted)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(BACKBONES))
def test_onnxruntime_matches_pytorch_for_every_backbone(name):
    model = _calibrated(name)
    x = _photos()
    with torch.inference_mode():
        ref = model.backbone(x)
        ref_probs = torch.softmax(model(x), dim=1)
    net = InferenceNet(model.backbone, CPU, InferenceEngine.ONNXRUNTIME)
    feats = net(x)
    assert net.engine == InferenceEngine.ONNXRUNTIME  # no silent fallback: ONNX Runtime computed these
    assert ref.std() > 0.05  # features that differ between photos, so agreeing means something
    # Within 1e-4 of the features' scale: float32 PyTorch itself is ~5e-5 of it from float64 on the
    # deepest networks here (ResNet-50), so an absolute 1e-4 would measure rounding, not the export.
    assert (feats - ref).abs().max() <= 1e-4 * max(1.0, ref.abs().max().item())
    with torch.inference_mode():
        probs = torch.softmax(model.head(feats), dim=1)
    assert (probs - ref_probs).abs().max() <= 1e-4  # what a user sees, as the export check measures it


@pytest.mark.parametrize("size", [SIZE, SIZE + 3])
def test_tf_same_padding_is_exported_as_constants_onnxruntime_folds(size, tmp_path):
    """Lite0's strided convolutions pad TF-style, worked out from the input size at each call; the
    graph pads by constants instead (ONNX Runtime then folds the padding into the convolution, ~1.4x
    faster), with the same outputs, also at a size whose padding is uneven."""
    import onnx
    import onnxruntime

    model = _calibrated("efficientnet_lite0")
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(2))
    net = InferenceNet(model.backbone, CPU, InferenceEngine.ONNXRUNTIME)
    feats = net(x)
    with torch.inference_mode():
        ref = model.backbone(x)
    assert net.engine == InferenceEngine.ONNXRUNTIME
    assert (feats - ref).abs().max() <= 1e-4 * max(1.0, ref.abs().max().item())
    (path,) = (tmp_path / "cache").glob(f"*/{inference.GRAPH_FILE}")
    exported = [node.op_type for node in onnx.load(str(path)).graph.node]
    assert exported.count("Pad") == 5  # Lite0's five stride-2 convolutions, each padded before it
    assert "Shape" not in exported  # nothing worked out from the input at run time
    # What ONNX Runtime runs (the app's session options): the padding folded into the convolutions.
    options = onnxruntime.SessionOptions()
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    optimized = [node.op_type for node in onnx.load(options.optimized_model_filepath).graph.node]
    assert "Pad" not in optimized and optimized.count("Conv") == 49


def test_auto_is_onnxruntime_on_cpu_and_pytorch_on_cuda():
    assert choose_engine("auto", CPU) == InferenceEngine.ONNXRUNTIME
    assert choose_engine(InferenceEngine.AUTO, torch.device("cuda", 0)) == InferenceEngine.PYTORCH
    assert choose_engine("pytorch", CPU) == InferenceEngine.PYTORCH


def test_the_graph_is_exported_once_then_read_from_the_cache(monkeypatch, tmp_path):
    exports = _Counting(monkeypatch)
    fusions = []
    real_fuse = inference.fuse_for_inference
    monkeypatch.setattr(inference, "fuse_for_inference", lambda m: fusions.append(m) or real_fuse(m))
    model = _calibrated("efficientnet_lite0")
    x = _photos()
    first = InferenceNet(model, CPU)(x)
    assert exports.calls == 1 and len(fusions) == 1
    again = InferenceNet(model, CPU)  # another run with the same weights: a new process would do the same
    assert torch.equal(again(x), first) and again.engine == InferenceEngine.ONNXRUNTIME
    assert exports.calls == 1
    assert len(fusions) == 1  # the cached graph needs no fused copy of the network
    (entry,) = [p for p in (tmp_path / "cache").iterdir() if p.is_dir()]
    assert (entry / inference.GRAPH_FILE).is_file() and (entry / "key.json").is_file()
    InferenceNet(model, CPU)(torch.randn(2, 3, SIZE + 32, SIZE + 32))  # another input size: another graph
    with torch.no_grad():
        model.head.weight.add_(1.0)
    InferenceNet(model, CPU)(x)  # changed weights: never the stale graph
    assert exports.calls == 3


def test_a_damaged_cached_graph_is_exported_again(monkeypatch, tmp_path):
    model = _calibrated("efficientnet_lite0")
    x = _photos()
    ref = InferenceNet(model, CPU)(x)
    (graph,) = (tmp_path / "cache").glob(f"*/{inference.GRAPH_FILE}")
    graph.write_bytes(b"not an onnx file")
    exports = _Counting(monkeypatch)
    net = InferenceNet(model, CPU)
    assert torch.equal(net(x), ref) and net.engine == InferenceEngine.ONNXRUNTIME
    assert exports.calls == 1


def _fails(*_args, **_kw):
    raise RuntimeError("simulated failure")


@pytest.mark.parametrize("broken", ["export", "session"])
def test_a_failure_falls_back_to_pytorch_with_one_log_line(broken, monkeypatch, caplog):
    import onnxruntime

    if broken == "export":
        monkeypatch.setattr(torch.onnx, "export", _fails)
    else:
        monkeypatch.setattr(onnxruntime, "InferenceSession", _fails)
    model = _calibrated("efficientnet_lite0")
    x = _photos()
    with torch.inference_mode():
        ref = model(x)
    net = InferenceNet(model, CPU)
    with caplog.at_level(logging.WARNING, logger=inference.__name__):
        out = [net(x), net(x)]
    assert net.engine == InferenceEngine.PYTORCH
    for o in out:
        assert torch.allclose(o, ref, atol=1e-4)
    assert len(caplog.records) == 1
    assert "simulated failure" in caplog.records[0].getMessage() and "PyTorch" in caplog.records[0].getMessage()


def _model_file(tmp_path, tweak=lambda m: None):
    """A 3-class model file (classes named like tiny_data's folders) with calibrated random weights."""
    path = tmp_path / "model.safetensors"
    classes = ["1", "2", "10"]
    model = _calibrated("efficientnet_lite0", len(classes))
    model.apply(tweak)
    save_model(path, model, ModelInfo("efficientnet_lite0", classes, classes, SIZE, [0.5] * 3, [0.5] * 3))
    return path


def test_predictor_probabilities_agree_between_engines(tmp_path, tiny_data):
    path, photos = _model_file(tmp_path), list_images([tiny_data / "valid"])
    results = {e: Predictor(path, "cpu", e).predict(photos, batch_size=4) for e in ("pytorch", "onnxruntime")}
    ort, pt = results["onnxruntime"].predictions, results["pytorch"].predictions
    assert len(ort) == len(pt) == len(photos)
    assert max(np.abs(a.probs - b.probs).max() for a, b in zip(ort, pt)) <= 1e-4
    assert [a.label for a in ort] == [b.label for b in pt]


def test_feature_cache_rows_agree_between_engines(tmp_path, tiny_data):
    model = _calibrated("efficientnet_lite0")
    photos = list_images([tiny_data / "valid"])
    tf = eval_transform(Preprocessing.of(SIZE, [0.5] * 3, [0.5] * 3))
    feats = {}
    for engine in ("pytorch", "onnxruntime"):
        cache = FeatureCache(tmp_path / engine, {"engine": engine})
        feats[engine], ok = cache.features("val", photos, [0] * len(photos), tf, model.backbone, CPU, batch_size=4,
                                           engine=engine)
        assert ok.all()
    # Stored as float16: the engines' ~1e-5 differences round to the same row or one step apart.
    assert torch.allclose(feats["onnxruntime"].float(), feats["pytorch"].float(), rtol=2e-3, atol=2e-3)


def test_a_model_file_that_ran_before_is_not_rebuilt(tmp_path, tiny_data, monkeypatch):
    """The graph is cached under the model file's content: the second Predictor never builds the
    PyTorch network (the slow part of a CLI run's start), and gives the same probabilities."""
    from flowerstudio.core.model import model_file as checkpoints

    path, photos = _model_file(tmp_path), list_images([tiny_data / "valid"])
    first = Predictor(path, "cpu").predict(photos, batch_size=4)
    builds = []
    real = checkpoints.load_model
    monkeypatch.setattr(checkpoints, "load_model", lambda *a, **k: builds.append(a) or real(*a, **k))
    again = Predictor(path, "cpu")
    second = again.predict(photos, batch_size=4)
    assert builds == [] and again.model.engine == InferenceEngine.ONNXRUNTIME
    assert [p.probs.tolist() for p in second.predictions] == [p.probs.tolist() for p in first.predictions]
    # Another file (other weights, same layout) is another graph: never the cached one.
    _model_file(tmp_path, _nudge)
    third = Predictor(path, "cpu").predict(photos, batch_size=4)
    assert len(builds) == 1
    assert max(np.abs(a.probs - b.probs).max() for a, b in zip(third.predictions, first.predictions)) > 1e-3


def _nudge(m: nn.Module) -> None:
    if isinstance(m, nn.Linear):
        with torch.no_grad():
            m.bias.add_(1.0 * torch.arange(m.bias.numel()))


def test_a_cached_graph_that_fails_builds_the_network_and_falls_back(tmp_path, tiny_data, monkeypatch, caplog):
    import onnxruntime

    path, photos = _model_file(tmp_path), list_images([tiny_data / "valid"])
    first = Predictor(path, "cpu").predict(photos, batch_size=4)
    monkeypatch.setattr(onnxruntime, "InferenceSession", _fails)
    with caplog.at_level(logging.WARNING, logger=inference.__name__):
        later = Predictor(path, "cpu")
        result = later.predict(photos, batch_size=4)
    assert later.model.engine == InferenceEngine.PYTORCH and len(caplog.records) == 1
    assert max(np.abs(a.probs - b.probs).max() for a, b in zip(result.predictions, first.predictions)) <= 1e-4


def test_a_frozen_stage_opens_one_session_for_all_its_photos(tiny_data, tmp_path, monkeypatch):
    """Training and validation photos go through one ONNX Runtime session, opened once."""
    from flowerstudio.core.training.trainer import train
    from tinyrun import tiny_config

    opened = []
    real = inference._session
    monkeypatch.setattr(inference, "_session", lambda path: opened.append(path) or real(path))
    result = train(tiny_config(tiny_data, tmp_path / "runs", epochs=1))
    assert result.status == "completed"
    assert len(opened) == 1
