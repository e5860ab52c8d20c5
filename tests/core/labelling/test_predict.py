import math
import shutil

import numpy as np
import pytest

from flowerstudio.core.labelling.evaluate import evaluate
from flowerstudio.core.foundation.events import Cancelled, CancelToken, PredictionBatch
from flowerstudio.core.labelling.predict import Predictor, list_images, true_label


def test_predict_labels_a_folder_in_batches_and_lists_unreadable(trained_run, tiny_data, tmp_path):
    folder = tmp_path / "new"
    shutil.copytree(tiny_data / "test", folder / "test")
    (folder / ".ipynb_checkpoints").mkdir()
    (folder / ".ipynb_checkpoints" / "x.jpg").write_bytes(b"")
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    paths = list_images([folder])
    assert len(paths) == 7  # hidden folder skipped, broken file included
    events = []
    result = Predictor(trained_run.best_path).predict(paths, batch_size=4, top_k=2, callback=events.append)
    assert len(result.predictions) == 6 and [p for p, _ in result.unreadable] == [str(folder / "broken.jpg")]
    assert [len(e.predictions) for e in events if isinstance(e, PredictionBatch)] == [4, 2]
    p = result.predictions[0]
    assert len(p.topk) == 2 and p.topk[0] == (p.name, p.confidence)
    assert math.isclose(float(np.sum(p.probs)), 1.0, rel_tol=1e-5)


def test_predict_can_be_cancelled(trained_run, tiny_data):
    token = CancelToken()

    def callback(event):
        if isinstance(event, PredictionBatch):
            token.cancel()

    paths = list_images([tiny_data / "train"])
    with pytest.raises(Cancelled) as stop:
        Predictor(trained_run.best_path).predict(paths, batch_size=2, callback=callback, cancel=token)
    assert stop.value.partial.cancelled and len(stop.value.partial.predictions) == 2


def test_confusion_matrix_matches_a_hand_count(trained_run, tiny_data):
    report = evaluate(trained_run.best_path, tiny_data, split="val")
    predictor = Predictor(trained_run.best_path)
    hand = np.zeros((3, 3), dtype=int)
    paths = list_images([tiny_data / "valid"])
    for p in predictor.predict(paths).predictions:
        hand[true_label(p.path, predictor.info.classes), p.label] += 1
    assert np.array_equal(np.asarray(report.confusion), hand)
    assert report.total == len(paths) == 6
    wrong = {m.path for m in report.mistakes}
    assert len(wrong) == report.total - report.correct
    assert [r.photos for r in report.per_class()] == [2, 2, 2]
