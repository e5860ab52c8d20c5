"""Predictions arrive once (in PredictionBatch events, and the same ones in the result), with their
folder's class when they sit in a class folder; a cancel lists what was not done."""
import shutil
from pathlib import Path

import pytest

from flowerstudio.core.foundation.events import Cancelled, CancelToken, PredictionBatch
from flowerstudio.core.labelling.predict import Prediction, Predictor, list_images


def test_true_label_and_correct(trained_run, tiny_data, tmp_path):
    loose = tmp_path / "loose.jpg"  # not in a class folder
    shutil.copy(list_images([tiny_data / "test"])[0], loose)
    paths = list_images([tiny_data / "test"]) + [str(loose)]
    predictor = Predictor(trained_run.best_path)
    result = predictor.predict(paths, batch_size=4)
    by_path = {p.path: p for p in result.predictions}
    for path in paths[:-1]:
        p = by_path[path]
        folder = Path(path).parent.name
        assert p.true_label == predictor.info.classes.index(folder)
        assert p.correct is (p.label == p.true_label)
    assert by_path[str(loose)].true_label is None and by_path[str(loose)].correct is None


def test_correct_property():
    p = Prediction("x/a/1.jpg", 1, "B", 0.9, ())
    assert p.correct is None
    assert Prediction("x", 1, "B", 0.9, (), true_label=1).correct is True
    assert Prediction("x", 1, "B", 0.9, (), true_label=0).correct is False


@pytest.mark.parametrize("stop_after", [1, 2])
def test_every_prediction_is_sent_once_and_a_cancel_lists_the_rest(trained_run, tiny_data, tmp_path, stop_after):
    folder = tmp_path / "photos"
    shutil.copytree(tiny_data / "train", folder)
    paths = list_images([folder])
    token = CancelToken()
    sent = []

    def callback(event):
        if isinstance(event, PredictionBatch):
            sent.extend(event.predictions)
            if len(sent) >= 2 * stop_after:
                token.cancel()

    with pytest.raises(Cancelled) as stop:
        Predictor(trained_run.best_path).predict(paths, batch_size=2, callback=callback, cancel=token)
    result = stop.value.partial
    assert result.cancelled
    assert len(sent) == len(result.predictions) and all(a is b for a, b in zip(sent, result.predictions))
    done = [p.path for p in result.predictions] + [p for p, _ in result.unreadable]
    assert len(done) == len(set(done))
    assert sorted(done + result.not_done) == sorted(paths)
    assert result.not_done and not set(result.not_done) & set(done)


def test_nothing_left_when_not_cancelled(trained_run, tiny_data):
    sent = []
    paths = list_images([tiny_data / "train"])  # holds unreadable photos too
    result = Predictor(trained_run.best_path).predict(
        paths, batch_size=3, callback=lambda e: sent.extend(getattr(e, "predictions", ())))
    assert not result.cancelled and result.not_done == [] and result.unreadable
    assert sent == result.predictions
    assert len(result.predictions) + len(result.unreadable) == len(paths)
