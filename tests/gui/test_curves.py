"""The training curves say what their numbers are: whole epochs, and the rates the run used."""
from flowerstudio.core.foundation.events import EpochMetrics
from flowerstudio.gui.widgets.curves import TrainingCurves


def _epoch(n, lr):
    return EpochMetrics(n, "frozen", 1.0 / n, 0.5, 1.0 / n, 0.5, lr, 0.01, n == 1)


def _labels(axis, plot):
    low, high = plot.getViewBox().viewRange()[1]
    levels = axis.tickValues(low, high, 300)
    return [s for spacing, values in levels for s in axis.tickStrings(values, 1.0, spacing or 1.0)]


def test_the_rate_axis_labels_the_rates_used_not_every_ninth_of_a_decade(qtbot):
    """The default frozen stage cuts the rate ×0.1 after 20 of its 30 epochs: a log axis with two labels."""
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    for n in range(1, 31):
        curves.add_epoch(_epoch(n, 1e-3 if n <= 20 else 1e-4))
    axis = curves.lr_plot.getAxis("left")
    assert axis.logMode
    assert _labels(axis, curves.lr_plot) == ["0.001", "0.0001"]
    curves.clear()
    for n in range(1, 6):  # a flat rate: a plain linear axis, pyqtgraph's own ticks
        curves.add_epoch(_epoch(n, 1e-3))
    assert not axis.logMode and "0.0010" in _labels(axis, curves.lr_plot)


def test_a_schedule_with_many_rates_gets_a_handful_of_labels(qtbot):
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    for n in range(1, 41):
        curves.add_epoch(_epoch(n, 1e-2 * 0.85 ** n))
    labels = _labels(curves.lr_plot.getAxis("left"), curves.lr_plot)
    assert 2 <= len(labels) <= 6 and labels[0] == "0.0085"
