"""No cell of a CSV the app writes can run as a spreadsheet formula (CSV injection)."""
import csv

from flowerstudio.core.labelling.evaluate import EvalReport, Mistake
from flowerstudio.core.labelling.predict import Prediction, write_csv

_FORMULA = ("=", "+", "-", "@", "\t", "\r")
EVIL = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "\rCR"]


def _cells(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return [cell for row in csv.reader(fh) for cell in row]


def test_text_cells_are_neutralised_and_numbers_are_not():
    from flowerstudio.core.foundation.csvfile import safe_cell

    assert [safe_cell(s) for s in EVIL] == ["'" + s for s in EVIL]
    assert safe_cell("rose") == "rose" and safe_cell("") == ""
    assert safe_cell(-2) == -2 and safe_cell(-0.5) == -0.5  # a negative number is a number, not a formula


def test_predictions_csv(tmp_path):
    preds = [Prediction(str(tmp_path / f"{name}.jpg"), i, name, 0.9, ((name, 0.9), (EVIL[0], 0.1)))
             for i, name in enumerate(EVIL)] + [Prediction("-rm.jpg", 0, "rose", 0.5, (("rose", 0.5),))]
    write_csv(preds, tmp_path / "p.csv")
    cells = _cells(tmp_path / "p.csv")
    assert not [c for c in cells if c.startswith(_FORMULA)]
    assert "'" + EVIL[0] in cells and "'-rm.jpg" in cells


def test_evaluation_csvs(tmp_path):
    names = EVIL[:3]
    report = EvalReport("m", "d", "val", ["a", "b", "c"], names, [[1, 1, 0], [0, 2, 0], [0, 0, 1]],
                        mistakes=[Mistake("=cmd|' /C calc'!A0.jpg", names[0], names[1], 0.7, 1.2)])
    report.save(tmp_path / "rep")
    for name in ("per_class.csv", "confusion.csv", "mistakes.csv"):
        cells = _cells(tmp_path / "rep" / name)
        assert not [c for c in cells if c.startswith(_FORMULA)], name
        assert "'" + names[0] in cells, name
