"""Export round trips: the exported files give PyTorch's probabilities, for any batch size."""
import json

import numpy as np
import pytest
import torch

from flowerstudio.cli import main
from flowerstudio.core.model.model_file import load_model
from flowerstudio.core.labelling.export import ExportError, export_model
from modelfiles import read_sidecar
from flowerstudio.core.photos.imageio import load_image
from flowerstudio.core.labelling.predict import list_images
from flowerstudio.core.model.preprocessing import Preprocessing, resize_for
from flowerstudio.core.runtime.transforms import eval_transform


@pytest.fixture(scope="module")
def photos(tiny_data):
    return list_images([tiny_data / "test"])[:4]


def _batch(model_path, photos):
    model, info = load_model(model_path)
    tf = eval_transform(Preprocessing.of(info.input_size, info.mean, info.std))
    x = torch.stack([tf(load_image(p)) for p in photos])
    with torch.inference_mode():
        return x, torch.softmax(model(x) / info.temperature, 1).numpy()  # what the exported file computes


def test_onnx_round_trip_dynamic_batch_and_sidecar(trained_run, photos, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    result = export_model(trained_run.best_path, tmp_path / "flowers.onnx", "onnx", photos)
    assert result.verified is True and result.max_abs_diff <= 1e-4, result.message
    assert "passed" in result.message and "4 photos" in result.message
    print(f"ONNX max abs diff {result.max_abs_diff:.2e}")

    session = ort.InferenceSession(result.path, providers=["CPUExecutionProvider"])
    x, expected = _batch(trained_run.best_path, photos)
    for n in (1, 4):  # the batch axis is dynamic
        (probs,) = session.run(None, {"images": x[:n].numpy()})
        assert probs.shape == (n, 3)
        np.testing.assert_allclose(probs, expected[:n], atol=1e-4)
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)

    meta = read_sidecar(result.path)
    assert result.sidecar_json_path == result.path + ".json"
    assert meta["classes"] == ["1", "2", "10"]
    assert meta["display_names"] == ["pink primrose", "hard-leaved pocket orchid", "globe thistle"]
    assert meta["backbone"] == "efficientnet_lite0" and meta["format"] == "onnx"
    assert meta["input"]["layout"] == "NCHW float32 RGB" and meta["input"]["input_size"] == 64
    assert meta["input"]["mean"] == [0.5, 0.5, 0.5] and meta["input"]["std"] == [0.5, 0.5, 0.5]
    assert meta["resize_short_side"] == round(64 * 256 / 224) and meta["center_crop"] == 64
    assert "probabilities" in meta["output"]["meaning"]
    import onnx

    graph = onnx.load(result.path)
    props = {p.key: p.value for p in graph.metadata_props}
    assert json.loads(props["flowerstudio"])["classes"] == meta["classes"]
    # Lite0's TF-style padding is exported as constants for this input size (ONNX Runtime folds it away).
    assert not {"Shape", "Ceil"} & {node.op_type for node in graph.graph.node}


@pytest.mark.filterwarnings("ignore:`torch.jit")
def test_torchscript_round_trip(trained_run, photos, tmp_path):
    result = export_model(trained_run.run_dir, tmp_path / "flowers.pt", "torchscript", photos)
    assert result.verified is True and result.max_abs_diff <= 1e-4, result.message
    print(f"TorchScript max abs diff {result.max_abs_diff:.2e}")
    extra = {"flowerstudio.json": ""}
    loaded = torch.jit.load(result.path, _extra_files=extra)
    assert json.loads(extra["flowerstudio.json"])["format"] == "torchscript"
    x, expected = _batch(trained_run.best_path, photos)
    with torch.inference_mode():
        for n in (1, 4):
            np.testing.assert_allclose(loaded(x[:n]).numpy(), expected[:n], atol=1e-4)
    assert read_sidecar(result.path)["output"]["shape"] == ["batch", 3]


def test_no_check_photos_and_bad_format(trained_run, tmp_path):
    result = export_model(trained_run.best_path, tmp_path / "m.pt", "torchscript")
    assert result.verified is None and result.max_abs_diff is None and "not checked" in result.message
    with pytest.raises(ExportError, match="format"):
        export_model(trained_run.best_path, tmp_path / "m.x", "tflite")


def test_cli_export_one_liner(trained_run, tiny_data, tmp_path, capsys):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "cli.onnx"
    code = main(["export", trained_run.run_dir, "--format", "onnx", "--out", str(out),
                 "--verify", str(tiny_data / "test")])
    lines = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and len(lines) == 1
    assert str(out) in lines[0] and "6 photos" in lines[0] and "passed" in lines[0]
    assert out.is_file() and (tmp_path / "cli.onnx.json").is_file()
