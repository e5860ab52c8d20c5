"""The review loop's engine: retrain the head from the cache (only new photos extracted), then refresh
predictions from cached features."""
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from imagefactory import draw_image, make_dataset
from tinyrun import tiny_config

from flowerstudio.core.runtime import featurecache
from flowerstudio.core.labelling.cached_predict import MISSING, CachedPredictor, fast_predictor
from flowerstudio.core.model.model_file import read_model_info
from flowerstudio.core.foundation.config import HEAD_EPOCHS, TrainConfig
from flowerstudio.core.foundation.events import Cancelled, CancelToken, PhaseStarted, PredictionBatch
from flowerstudio.core.runs.history import RunError
from flowerstudio.core.runs.record import RunRecord
from flowerstudio.core.labelling.predict import Predictor
from flowerstudio.core.training.retrain import head_config, retrain_head
from flowerstudio.core.training.trainer import train


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    """A frozen-stage run with its own feature cache, which the tests of this module share."""
    root = tmp_path_factory.mktemp("retrain")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FLOWERSTUDIO_CACHE_DIR", str(root / "cache"))
        data = make_dataset(root / "data", classes=("a", "b", "c"), per_class=20, layout="flat", size=(32, 32))
        events = []
        result = train(tiny_config(data, root / "runs", epochs=3, cache_views=1, val_fraction=0.4), events.append)
        # Every photo once: 36 training, 24 validation.
        assert sum(e.total for e in events if isinstance(e, PhaseStarted) and e.phase == "extract") == 60
        yield data, result


@pytest.fixture
def counted(first_run, monkeypatch):
    """A list that records how many photos each extraction runs through the backbone from now on."""
    extracted = []
    original = featurecache.FeatureCache._extract

    def counting(self, rows, missing, *args, **kw):
        extracted.append(len(missing))
        return original(self, rows, missing, *args, **kw)

    monkeypatch.setattr(featurecache.FeatureCache, "_extract", counting)
    return extracted


def _add_photos(folder: Path, k: int, count: int) -> list[Path]:
    out = []
    for i in range(100, 100 + count):
        path = folder / f"reviewed_{i}.jpg"
        draw_image(k, i, (32, 32)).save(path, quality=90)
        out.append(path)
    return out


def test_retrain_extracts_only_the_added_photos_and_keeps_the_split(first_run, counted):
    data, first = first_run
    added = _add_photos(data / "a", 0, 2) + _add_photos(data / "c", 2, 1)
    events = []
    result, verdict = retrain_head(first.run_dir, events.append)
    assert result.status == "completed" and result.run_dir != first.run_dir
    assert verdict.use_new == result.best.beats(read_model_info(first.best_path).score)
    assert result.best.words() in verdict.message and read_model_info(first.best_path).score.words() in verdict.message
    assert Path(result.run_dir).parent == Path(first.run_dir).parent
    assert sum(counted) == 3  # the three added photos, nothing else
    extract = [e.total for e in events if isinstance(e, PhaseStarted) and e.phase == "extract"]
    assert extract == [3]
    old = json.loads((Path(first.run_dir) / "split.json").read_text())
    new = json.loads((Path(result.run_dir) / "split.json").read_text())
    assert sorted(new["val"]) == sorted(old["val"])  # the same validation photos: T is fitted on the same kind
    assert sorted(set(new["train"]) - set(old["train"])) == sorted(f"{p.parent.name}/{p.name}" for p in added)
    assert result.calibration is not None and read_model_info(result.best_path).calibrated
    # The old model is left as it was.
    assert read_model_info(first.best_path).epoch == first.best_epoch


def test_retrain_command(first_run, counted, capsys):
    from flowerstudio.cli import main

    _, first = first_run
    assert main(["retrain", first.run_dir]) == 0
    assert counted == [] and "completed: best validation accuracy" in capsys.readouterr().out


def test_head_config_of_a_fine_tuned_run_uses_the_frozen_stage_recipe(first_run, tmp_path):
    _, first = first_run
    run = Path(shutil.copytree(first.run_dir, tmp_path / "run"))  # its config is edited below
    cfg = TrainConfig.load(run / "config.json")
    assert head_config(RunRecord.load(run)).lr == cfg.lr == 3e-3  # a frozen run keeps its own recipe
    cfg.train_mode, cfg.lr, cfg.epochs, cfg.resume_from = "all", 1e-4, 1, str(run)
    cfg.save(run / "config.json")
    again = head_config(RunRecord.load(run), data_dir=tmp_path / "elsewhere")
    defaults = TrainConfig()
    assert (again.train_mode, again.resume_from, again.feature_cache) == ("frozen", None, True)
    # The frozen stage's own schedule, not the fine-tune's 1 epoch and its step.
    assert (again.lr, again.epochs, again.step_size) == (defaults.lr, HEAD_EPOCHS, 20)
    assert again.input_size == 64 and again.data_dir == str(tmp_path / "elsewhere")
    (run / "config.json").unlink()
    with pytest.raises(RunError, match="not a run folder"):
        RunRecord.load(run)
    with pytest.raises(FileNotFoundError, match="not a run folder"):
        retrain_head(run / "best.safetensors")


def test_a_retrain_never_replaces_a_better_model_silently(first_run):
    """The model in use was fine-tuned to a better score: the verdict keeps it and gives both figures."""
    from dataclasses import replace

    from flowerstudio.core.foundation.events import Score
    from flowerstudio.core.training.retrain import compare
    from flowerstudio.core.training.trainer import TrainResult

    _, first = first_run
    old = replace(read_model_info(first.best_path), val_correct=28, val_total=40, val_loss=0.9, stage="all")
    worse = TrainResult("completed", "run", "frozen", "best", Score(27, 40, 0.8), 3)
    keep = compare(worse, first.best_path, old)
    assert not keep.use_new and "67.5 % (27 of 40)" in keep.message and "70.0 % (28 of 40)" in keep.message
    assert "stays" in keep.message and "fine-tuned" in keep.message
    tie = compare(TrainResult("completed", "run", "frozen", "best", Score(28, 40, 0.95), 3), first.best_path, old)
    assert not tie.use_new  # as good is not better: the model in use stays
    better = compare(TrainResult("completed", "run", "frozen", "best", Score(30, 40, 1.2), 3), first.best_path, old)
    assert better.use_new and "used from now on" in better.message


def test_a_run_without_its_split_is_not_retrained(first_run, tmp_path):
    _, first = first_run
    run = Path(shutil.copytree(first.run_dir, tmp_path / "run"))
    (run / "split.json").unlink()
    with pytest.raises(RunError, match="has no split.json.*mix them into its training photos"):
        retrain_head(run)


def test_cached_predictions_match_the_full_network_and_reuse_the_cache(first_run, counted, tmp_path):
    data, first = first_run
    new = tmp_path / "new"
    new.mkdir()
    photos = [str(p) for p in _add_photos(new, 1, 5)]
    predictor = fast_predictor(first.best_path, "cpu")
    assert isinstance(predictor, CachedPredictor)
    batches = []
    result = predictor.predict(photos, top_k=2, callback=batches.append)
    assert counted == [5]
    full = {p.path: p for p in Predictor(first.best_path, "cpu").predict(photos, top_k=2).predictions}
    assert [p.path for p in result.predictions] == photos
    sent = [p for e in batches if isinstance(e, PredictionBatch) for p in e.predictions]
    assert sent == result.predictions
    for p in result.predictions:
        assert p.label == full[p.path].label and len(p.topk) == 2
        np.testing.assert_allclose(p.probs, full[p.path].probs, atol=5e-3)  # float16 features
    counted.clear()
    again = CachedPredictor(first.best_path, "cpu").predict(photos)
    assert counted == [] and [p.confidence for p in again.predictions] == [p.confidence for p in result.predictions]


def test_cached_predictor_skips_deleted_and_broken_photos_and_can_be_cancelled(first_run, tmp_path):
    from imagefactory import write_broken_files

    _, first = first_run
    photos = [str(p) for p in _add_photos(tmp_path, 0, 3)]
    broken = [str(p) for p in write_broken_files(tmp_path / "broken")][:1]
    gone = str(tmp_path / "deleted.jpg")
    result = CachedPredictor(first.best_path, "cpu").predict(photos + [gone] + broken)
    assert [p.path for p in result.predictions] == photos
    reasons = dict(result.unreadable)
    assert reasons[gone] == MISSING and broken[0] in reasons and reasons[broken[0]] != MISSING
    token = CancelToken()
    token.cancel()
    with pytest.raises(Cancelled) as stop:
        CachedPredictor(first.best_path, "cpu").predict(photos, cancel=token)
    stopped = stop.value.partial
    assert stopped.cancelled and stopped.predictions == [] and stopped.not_done == photos


def test_a_fine_tuned_model_is_predicted_with_the_full_network(first_run, tmp_path):
    data, first = first_run
    start = shutil.copy(first.best_path, tmp_path / "start.safetensors")  # outside the run: a new run
    tuned = train(tiny_config(data, tmp_path / "tuned", epochs=1, train_mode="all", lr=1e-4, resume_from=str(start)))
    assert read_model_info(tuned.best_path).stage == "all"
    assert type(fast_predictor(tuned.best_path, "cpu")) is Predictor
    with pytest.raises(ValueError, match="not a frozen-stage model"):
        CachedPredictor(tuned.best_path, "cpu")


def test_the_cached_frozen_stage_writes_its_model_files_once_when_it_ends(first_run, tmp_path):
    from flowerstudio.core.foundation.events import CheckpointSaved, EpochEnd
    from flowerstudio.core.runs.history import read_history

    import torch

    data, _ = first_run
    events = []
    torch.set_num_threads(2)  # as conftest sets it: the stage's one-thread block must give it back
    result = train(tiny_config(data, tmp_path, epochs=4, cache_views=1, val_fraction=0.4), events.append)
    assert torch.get_num_threads() == 2
    saved = [e for e in events if isinstance(e, CheckpointSaved)]
    assert [(e.kind, e.epoch) for e in saved] == [("best", result.best_epoch)]
    assert events.index(saved[0]) > max(i for i, e in enumerate(events) if isinstance(e, EpochEnd))
    run = Path(result.run_dir)
    assert read_model_info(run / "best.safetensors").epoch == result.best_epoch
    assert read_model_info(run / "last.safetensors").epoch == 4 and len(read_history(run)) == 4
    # Stopped in its third epoch: the files of the epochs that ended are written all the same.
    token = CancelToken()

    def stop(event):
        if isinstance(event, PhaseStarted) and event.phase == "train" and event.epoch == 3:
            token.cancel()

    with pytest.raises(Cancelled) as stopping:
        train(tiny_config(data, tmp_path, epochs=4, cache_views=1, val_fraction=0.4), stop, token)
    stopped = stopping.value.partial
    assert stopped.status == "cancelled" and len(stopped.history) == 2
    assert read_model_info(Path(stopped.run_dir) / "last.safetensors").epoch == 2
    assert read_model_info(stopped.best_path).calibrated  # fitted from the best epoch's logits
