"""EvalReport.rows and photos(): every evaluated photo placed in its confusion cell, no second scan."""
import json

from flowerstudio.core.labelling.evaluate import EvalReport, EvalRow, Mistake, evaluate
from flowerstudio.core.photos.scan import scan_dataset
from flowerstudio.core.labelling.predict import true_label
from flowerstudio.core.foundation.vocab import Split


def _report(rows, mistakes=()):
    return EvalReport("m", "d", Split.VAL, ["a", "b"], ["A", "B"], [[0, 0], [0, 0]], rows=list(rows),
                      mistakes=list(mistakes))


def test_photos_of_a_cell_mistakes_most_confident_first_correct_in_scan_order():
    report = _report([EvalRow("1", 0, 0, 0.9), EvalRow("2", 0, 1, 0.6), EvalRow("3", 0, 0, 0.99),
                      EvalRow("4", 0, 1, 0.8), EvalRow("5", 1, 1, 0.7), EvalRow("6", 0, 1, 0.6)])
    assert report.photos(0, 0) == ["1", "3"]  # scan order, not confidence
    assert report.photos(0, 1) == ["4", "2", "6"]  # most confident first; ties keep scan order
    assert report.photos(1, 1) == ["5"] and report.photos(1, 0) == []


def test_rows_cover_every_photo_and_match_the_matrix(trained_run, tiny_data):
    report = evaluate(trained_run.best_path, tiny_data, split="val")
    assert report.split is Split.VAL
    paths = [s.path for s in scan_dataset(tiny_data, check_images=False).val]
    assert [r.path for r in report.rows] == paths  # scan order, every photo once
    for r in report.rows:
        assert r.true == true_label(r.path, report.classes)
    n = len(report.classes)
    cells = [[report.photos(t, p) for p in range(n)] for t in range(n)]
    assert [[len(c) for c in row] for row in cells] == report.confusion
    assert sorted(p for row in cells for c in row for p in c) == sorted(paths)


def test_mistakes_are_most_confident_first(trained_run, tiny_data):
    report = evaluate(trained_run.best_path, tiny_data, split=Split.ALL)
    confidences = [m.confidence for m in report.mistakes]
    assert confidences == sorted(confidences, reverse=True)
    assert {m.path for m in report.mistakes} == {r.path for r in report.rows if r.true != r.predicted}


def test_mistakes_sort_by_confidence_not_by_loss(monkeypatch):
    """A confident mistake can have a smaller loss than a hesitant one: the order is by confidence."""
    import numpy as np

    from flowerstudio.core.labelling import evaluate as ev
    from flowerstudio.core.labelling.predict import Prediction, PredictResult

    class FakeInfo:
        classes, display_names, num_classes = ["a", "b", "c"], ["A", "B", "C"], 3
        temperature, calibrated, calibration = 1.0, False, "uncalibrated test double"
        config = {}  # not trained on "data": every photo of it is evaluated

    class FakePredictor:
        info = FakeInfo()

        def predict(self, paths, *args, **kwargs):
            # p1: 0.9 on b, 0.06 on a (loss 2.8); p2: 0.5 on b, 0.01 on a (loss 4.6).
            probs = {"p1": [0.06, 0.9, 0.04], "p2": [0.01, 0.5, 0.49]}
            return PredictResult([Prediction(p, 1, "B", max(probs[p]), (), np.array(probs[p]),
                                             logits=np.log(np.array(probs[p]))) for p in paths], [])

    class FakeScan:
        classes = ["a"]
        train = test = []
        val = [type("S", (), {"path": "p2", "label": 0})(), type("S", (), {"path": "p1", "label": 0})()]

        def samples(self, part):
            return {"train": self.train, "val": self.val, "test": self.test}[part]

    monkeypatch.setattr(ev, "scan_dataset", lambda *a, **k: FakeScan())
    report = ev.evaluate("model", "data", split="val", predictor=FakePredictor())
    assert [m.path for m in report.mistakes] == ["p1", "p2"]
    assert isinstance(report.mistakes[0], Mistake)


def test_saved_report_is_unchanged_by_rows(trained_run, tiny_data, tmp_path):
    report = evaluate(trained_run.best_path, tiny_data, split="val")
    report.save(tmp_path)
    data = json.loads((tmp_path / "report.json").read_text())
    assert "rows" not in data and data["split"] == "val"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["confusion.csv", "mistakes.csv", "per_class.csv", "photos.csv",
                                                         "report.json"]
