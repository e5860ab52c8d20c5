"""Temperature scaling: the fit, the model file's fields, and calibrated confidences everywhere they are used."""
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from tinyrun import run_folders
import torch
from safetensors.numpy import save_file

from flowerstudio.cli import main
from flowerstudio.core.model.calibration import (
    MIN_PHOTOS, ReliabilityBin, expected_calibration_error, fit_temperature, reliability,
)
from flowerstudio.core.model.model_file import (
    FORMAT, CheckpointError, load_model, read_model_info, update_model_info,
)
from flowerstudio.core.labelling.evaluate import evaluate
from flowerstudio.core.model.metadata import NO_TEMPERATURE
from flowerstudio.core.labelling.predict import Predictor, list_images
from flowerstudio.core.photos.sorting import UNCERTAIN, sort_into


def _sampled(n: int, classes: int, true_t: float, seed: int = 0):
    """Logits whose labels are drawn from softmax(logits / true_t): a model off by exactly that temperature."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, classes, generator=g) * 3
    labels = torch.distributions.Categorical(logits=z / true_t).sample()
    return z, labels


@pytest.mark.parametrize("true_t, side", [(0.4, "underconfident"), (2.5, "overconfident")])
def test_the_fitted_temperature_lowers_the_nll_and_keeps_every_label(true_t, side):
    z, y = _sampled(600, 10, true_t)
    fit = fit_temperature(z, y)
    assert fit.calibrated and fit.photos == 600
    assert fit.nll_after < fit.nll_before - 0.05, fit.message
    assert abs(math.log(fit.temperature / true_t)) < 0.2, (side, fit.temperature)
    calibrated = torch.softmax(z / fit.temperature, 1)
    assert torch.equal(calibrated.argmax(1), z.argmax(1))  # accuracy unchanged
    nll = torch.nn.functional.cross_entropy(z / fit.temperature, y).item()
    assert nll == pytest.approx(fit.nll_after, abs=1e-6)


def test_small_or_broken_validation_splits_keep_t_at_one():
    z, y = _sampled(MIN_PHOTOS - 1, 5, 0.3)
    fit = fit_temperature(z, y)
    assert (fit.temperature, fit.calibrated) == (1.0, False) and f"only {MIN_PHOTOS - 1}" in fit.message
    z, y = _sampled(50, 5, 0.3)
    z[3, 1] = float("nan")
    fit = fit_temperature(z, y)
    assert (fit.temperature, fit.calibrated) == (1.0, False) and "not finite" in fit.message
    # A small split the model gets entirely right would drive T to its bound: the prior holds it back.
    z = torch.randn(25, 10, generator=torch.Generator().manual_seed(1))
    fit = fit_temperature(z, z.argmax(1))
    assert 0.1 < fit.temperature < 1.0, fit.message


def test_an_already_calibrated_model_keeps_t_near_one():
    z, y = _sampled(2000, 10, 1.0, seed=3)
    fit = fit_temperature(z, y)
    assert fit.calibrated and abs(math.log(fit.temperature)) < 0.1, fit.message


def test_reliability_bins_and_ece_by_hand():
    conf = [0.05, 0.5, 0.55, 0.9, 1.0, 0.95]
    right = [False, True, False, True, True, True]
    bins = reliability(conf, right, bins=10)
    assert [b.count for b in bins] == [1, 0, 0, 0, 1, 1, 0, 0, 1, 2]  # (0.4, 0.5] holds 0.5
    assert bins[9].confidence == pytest.approx(0.975) and bins[9].accuracy == 1.0
    assert math.isnan(bins[1].confidence) and bins[4].lower == pytest.approx(0.4)
    gaps = [0.05, 0.5, 0.55, 0.1, 0.025 * 2]  # |acc - conf| per non-empty bin, weighted by photos
    assert expected_calibration_error(bins) == pytest.approx(sum(gaps) / 6)
    assert math.isnan(expected_calibration_error(reliability([], [])))
    assert len(reliability(conf, right)) == 15


# -- the model file --------------------------------------------------------------------------------
GOOD = {"backbone": "efficientnet_lite0", "classes": ["a", "b"], "display_names": ["A", "B"], "input_size": 64,
        "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]}


def _crafted(path: Path, info: dict) -> Path:
    meta = {"format": FORMAT, "format_version": "1", "flowerstudio": json.dumps(info)}
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(path), metadata=meta)
    return path


@pytest.mark.parametrize("field, value", [("temperature", 0.0), ("temperature", 50), ("temperature", "0.5"),
                                          ("calibrated", "yes"), ("calibration", 3)])
def test_a_wrong_temperature_field_names_the_file_and_the_field(tmp_path, field, value):
    path = _crafted(tmp_path / "odd.safetensors", {**GOOD, "temperature": 0.7, field: value})
    with pytest.raises(CheckpointError, match=rf"odd\.safetensors.*'{field}'"):
        read_model_info(path)


def test_calibrated_without_a_temperature_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match="'temperature' is missing"):
        read_model_info(_crafted(tmp_path / "m.safetensors", {**GOOD, "calibrated": True}))


def test_an_older_real_model_predicts_with_the_raw_softmax_and_the_cli_says_so(calibrated_run, tmp_path, capsys):
    from safetensors import safe_open
    from safetensors.numpy import load_file

    source = calibrated_run[1].best_path
    with safe_open(source, framework="numpy") as fh:
        meta = fh.metadata()
    info = json.loads(meta["flowerstudio"])
    for key in ("temperature", "calibrated", "calibration"):
        del info[key]
    old = tmp_path / "old.safetensors"
    save_file(load_file(source), str(old), metadata={**meta, "flowerstudio": json.dumps(info)})
    photo = list_images([calibrated_run[0] / "c"])[0]
    (p,) = Predictor(old, "cpu").predict([photo]).predictions
    np.testing.assert_allclose(p.probs, torch.softmax(torch.from_numpy(p.logits), 0).numpy(), atol=1e-6)
    assert main(["predict", str(old), photo]) == 0
    assert f"note: {NO_TEMPERATURE}" in capsys.readouterr().err


def test_an_older_model_file_loads_with_t_one_and_says_so(tmp_path):
    info = read_model_info(_crafted(tmp_path / "old.safetensors", GOOD))
    assert (info.temperature, info.calibrated, info.calibration) == (1.0, False, NO_TEMPERATURE)
    info = read_model_info(_crafted(tmp_path / "new.safetensors", {**GOOD, "temperature": 2, "calibrated": True}))
    assert (info.temperature, info.calibrated) == (2.0, True) and isinstance(info.temperature, float)


# -- training stores T; every confidence uses it -----------------------------------------------------
@pytest.fixture(scope="module")
def calibrated_run(tmp_path_factory):
    """A frozen-stage run with enough validation photos to fit T (the shared tiny run has too few)."""
    from imagefactory import make_dataset
    from tinyrun import tiny_config

    from flowerstudio.core.training.trainer import train

    data = make_dataset(tmp_path_factory.mktemp("cal-data"), classes=("a", "b", "c"), per_class=20,
                        layout="flat", size=(32, 32))
    result = train(tiny_config(data, tmp_path_factory.mktemp("cal-runs"), epochs=3, cache_views=1,
                               val_fraction=0.4))
    return data, result


def test_training_fits_t_on_the_validation_split_and_stores_it(calibrated_run):
    data, result = calibrated_run
    fit = result.calibration
    assert fit is not None and fit.calibrated and fit.photos == 24  # 8 of 20 per class held out
    info = read_model_info(result.best_path)
    assert info.calibrated and info.temperature == pytest.approx(fit.temperature) and info.temperature != 1.0
    assert info.calibration == fit.message and "fitted on 24 validation photos" in fit.message
    assert fit.message in (Path(result.run_dir) / "train.log").read_text()
    last = read_model_info(Path(result.run_dir) / "last.safetensors")
    assert not last.calibrated and "not fitted" in last.calibration
    # The weights are those of the best epoch, unchanged by the rewrite.
    model, _ = load_model(result.best_path)
    assert read_model_info(result.best_path).epoch == result.best_epoch
    assert model.head.weight.shape == (3, model.num_features)


def test_the_stored_t_lowers_the_nll_of_the_saved_model_on_its_validation_photos(calibrated_run):
    data, result = calibrated_run
    split = json.loads((Path(result.run_dir) / "split.json").read_text())
    photos = [str(data / rel) for rel in split["val"]]
    preds = Predictor(result.best_path, "cpu").predict(photos).predictions
    logits = torch.from_numpy(np.stack([p.logits for p in preds]))
    labels = torch.tensor([p.true_label for p in preds])
    t = read_model_info(result.best_path).temperature
    nll = [torch.nn.functional.cross_entropy(logits / temp, labels).item() for temp in (1.0, t)]
    assert nll[1] < nll[0]
    # The same numbers as the fit saw (from cached float16 features, hence the tolerance).
    assert nll == pytest.approx([result.calibration.nll_before, result.calibration.nll_after], abs=0.02)


@pytest.fixture
def sharp_model(calibrated_run, tmp_path):
    """The run's best model with T = 4: probabilities far softer than the raw softmax."""
    path = tmp_path / "sharp.safetensors"
    path.write_bytes(Path(calibrated_run[1].best_path).read_bytes())
    update_model_info(path, temperature=4.0, calibrated=True, calibration="test")
    return path


def test_predictions_are_calibrated(calibrated_run, sharp_model):
    data = calibrated_run[0]
    photos = list_images([data / "a"])[:6]
    preds = Predictor(sharp_model, "cpu").predict(photos, top_k=3).predictions
    raw = {p.path: p for p in Predictor(calibrated_run[1].best_path, "cpu").predict(photos).predictions}
    names = read_model_info(sharp_model).display_names
    for p in preds:
        np.testing.assert_allclose(p.logits, raw[p.path].logits, atol=1e-5)  # the same network
        expected = torch.softmax(torch.from_numpy(p.logits) / 4.0, 0).numpy()
        np.testing.assert_allclose(p.probs, expected, atol=1e-6)
        assert p.confidence == pytest.approx(float(expected.max()), abs=1e-6)
        assert [c for c, _ in p.topk] == [names[i] for i in np.argsort(-expected)[:3]]
        assert p.label == raw[p.path].label and p.confidence < raw[p.path].confidence


def test_uncertain_folder_and_min_confidence_use_calibrated_values(calibrated_run, sharp_model, tmp_path, capsys):
    data = calibrated_run[0]
    photos = list_images([data / "b"])[:4]
    raw = Predictor(calibrated_run[1].best_path, "cpu").predict(photos).predictions
    soft = Predictor(sharp_model, "cpu").predict(photos).predictions
    # Just above every calibrated confidence: the raw softmax would put some photo in a class folder.
    threshold = round(max(p.confidence for p in soft) + 1e-4, 6)
    assert any(p.confidence >= threshold for p in raw)
    assert sort_into(soft, tmp_path / "sorted", threshold).counts == {UNCERTAIN: 4}
    assert main(["predict", str(sharp_model), *photos, "--sort-into", str(tmp_path / "cli"),
                 "--min-confidence", f"{threshold:.6f}", "--csv", str(tmp_path / "p.csv")]) == 0
    assert len(list((tmp_path / "cli" / UNCERTAIN).iterdir())) == 4
    assert "confidences are calibrated (temperature 4)" in capsys.readouterr().err
    rows = (tmp_path / "p.csv").read_text().splitlines()[1:]
    shown = sorted(float(r.split(",")[2]) for r in rows)
    assert shown == pytest.approx(sorted(p.confidence for p in soft), abs=1e-6)


def test_evaluate_reports_ece_calibrated_and_raw(calibrated_run, sharp_model, tmp_path):
    data = calibrated_run[0]
    report = evaluate(sharp_model, data, "val", device="cpu")
    assert report.temperature == 4.0 and report.calibrated
    # The run drew 40 % of 60 photos for validation; the model file is a copy outside its run folder, so the
    # split is drawn again with the run's own fraction and seed, and the report says what that means.
    assert sum(b.count for b in report.reliability) == report.total == 24
    assert any("not in its run folder" in note for note in report.notes)
    assert all(isinstance(b, ReliabilityBin) for b in report.reliability + report.reliability_uncalibrated)
    # Recomputed from the rows: the calibrated ECE is of the confidences shown.
    right = [r.true == r.predicted for r in report.rows]
    assert report.ece == pytest.approx(expected_calibration_error(
        reliability([r.confidence for r in report.rows], right)))
    raw = evaluate(calibrated_run[1].best_path, data, "val", device="cpu")
    assert report.ece_uncalibrated == pytest.approx(raw.ece_uncalibrated, abs=1e-6)
    assert report.ece != pytest.approx(report.ece_uncalibrated)
    report.save(tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["ece"] == pytest.approx(report.ece) and saved["ece_uncalibrated"] == pytest.approx(raw.ece_uncalibrated)
    assert saved["temperature"] == 4.0 and len(saved["reliability"]) == 15
    assert saved["reliability"][14].keys() == asdict(report.reliability[14]).keys()
    assert "ECE" in report.summary()
    assert main(["evaluate", str(sharp_model), str(data), "--split", "val", "--out", str(tmp_path / "cli")]) == 0
    assert json.loads((tmp_path / "cli" / "report.json").read_text())["ece"] == pytest.approx(report.ece)


def test_export_folds_t_into_the_graph_and_says_so(calibrated_run, sharp_model, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from flowerstudio.core.labelling.export import export_model
    from modelfiles import read_sidecar

    photos = list_images([calibrated_run[0]])[:5]
    result = export_model(sharp_model, tmp_path / "m.onnx", "onnx", photos)
    assert result.verified is True, result.message
    meta = read_sidecar(result.path)
    assert meta["temperature"] == 4.0 and meta["calibrated"] is True and "calibrated" in meta["output"]["meaning"]
    shown = Predictor(sharp_model, "cpu").predict(photos).predictions
    x = torch.stack([_as_model_sees(sharp_model, p) for p in photos]).numpy()
    session = ort.InferenceSession(result.path, providers=["CPUExecutionProvider"])
    (probs,) = session.run(None, {"images": x})
    np.testing.assert_allclose(probs, np.stack([p.probs for p in shown]), atol=1e-4)


def _as_model_sees(model_path, photo):
    from flowerstudio.core.photos.imageio import load_image
    from flowerstudio.core.runtime.transforms import eval_transform

    pre = read_model_info(model_path).preprocessing
    return eval_transform(pre)(load_image(photo, min_side=pre.resize))


def test_a_stage_killed_before_calibrating_is_calibrated_when_resumed(calibrated_run, tmp_path):
    """The photos-through-the-network path: the kept logits of the best epoch, and the extra validation
    pass when the best epoch ran in a process that died before the stage's end."""
    from tinyrun import tiny_config

    from flowerstudio.core.training.fit import NOT_FITTED
    from flowerstudio.core.training.trainer import resume, train

    data = calibrated_run[0]
    first = train(tiny_config(data, tmp_path, epochs=1, feature_cache=False, val_fraction=0.4))
    fitted = read_model_info(first.best_path)
    assert first.calibration.calibrated and fitted.calibrated and fitted.temperature != 1.0
    update_model_info(first.best_path, temperature=1.0, calibrated=False, calibration=NOT_FITTED)
    events = []
    result = resume(first.run_dir, events.append)  # no epochs left: only the calibration
    assert len(result.history) == 1 and result.calibration is not None
    assert any(getattr(e, "phase", None) == "validate" for e in events)  # the extra pass ran
    again = read_model_info(first.best_path)
    assert again.calibrated and again.temperature == pytest.approx(fitted.temperature, rel=1e-4)
    # A finished stage's best model is not fitted again by a stage that does not beat it.
    assert resume(first.run_dir).calibration is None


def test_raw_confidence_from_logits_or_from_calibrated_probabilities_alone():
    from flowerstudio.core.labelling.evaluate import _raw_confidence
    from flowerstudio.core.labelling.predict import Prediction

    z = np.array([2.0, -1.0, 0.5])
    raw = float(np.exp(z).max() / np.exp(z).sum())
    for t in (0.3, 2.0):
        probs = torch.softmax(torch.from_numpy(z) / t, 0).numpy()
        with_logits = Prediction("p", 0, "A", float(probs.max()), (), probs, logits=z)
        without = Prediction("p", 0, "A", float(probs.max()), (), probs)  # a predictor that gives no logits
        assert _raw_confidence(with_logits, t) == pytest.approx(raw, abs=1e-12)
        assert _raw_confidence(without, t) == pytest.approx(raw, abs=1e-9)
        assert float(probs.max()) != pytest.approx(raw, abs=1e-3)  # T really changed the confidence


def test_under_torchrun_t_is_fitted_on_every_rank_s_validation_photos(calibrated_run, tmp_path):
    """Each rank validates half the photos; the fit must see all of them (gathered), once each."""
    import os
    import subprocess
    import sys

    data = calibrated_run[0]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "flowerstudio", "train", str(data), "--input-size", "64", "--epochs", "2", "--batch-size", "8",
           "--val-fraction", "0.4", "--no-feature-cache", "--output", str(tmp_path / "runs")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "FLOWERSTUDIO_CACHE_DIR": str(tmp_path / "cache")})
    assert out.returncode == 0, out.stderr[-3000:]
    (run,) = run_folders(tmp_path / "runs")
    info = read_model_info(run / "best.safetensors")
    assert info.calibrated and "fitted on 24 validation photos" in info.calibration
    split = json.loads((run / "split.json").read_text())
    preds = Predictor(run / "best.safetensors", "cpu").predict([str(data / rel) for rel in split["val"]]).predictions
    logits = torch.from_numpy(np.stack([p.logits for p in preds]))
    fit = fit_temperature(logits, torch.tensor([p.true_label for p in preds]))
    assert fit.temperature == pytest.approx(info.temperature, rel=1e-3)
