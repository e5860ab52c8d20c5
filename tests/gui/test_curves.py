"""The training curves say what their numbers are, in plain words: whole rounds, the rates the run used, one
legend with every curve's swatch, and the name of each step above the plots, never over a curve."""
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


def _two_steps(curves):
    """Five rounds of the new layer, then three of the whole network."""
    for n in range(1, 9):
        stage, lr = ("frozen", 1e-3) if n <= 5 else ("all", 1e-4)
        curves.add_epoch(EpochMetrics(n, stage, 1.5 / n, 0.6 + 0.05 * n, 1.6 / n, 0.55 + 0.055 * n, lr, 0.01, n == 8))


def test_one_legend_shows_each_curve_with_its_own_pen(qtbot):
    """One legend above the three plots (never over a curve), every entry drawn with its curve's pen; clicking
    an entry does not hide its curve (pyqtgraph's default, which left an eye where the swatch was)."""
    from PySide6.QtCore import Qt

    from flowerstudio.gui import style
    from flowerstudio.gui.widgets.curves import STAGE_PEN

    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(820, 330)
    curves.show()
    _two_steps(curves)
    entries = {label.text: sample.item for sample, label in curves.legend.items}
    assert list(entries) == ["training photos", "validation photos", "best round (the model kept)",
                             "a new step starts"]
    pens = {name: item.opts["pen"] for name, item in entries.items()}
    assert pens["training photos"].color().name() == style.TRAIN
    assert pens["validation photos"].color().name() == style.VALIDATION
    assert entries["training photos"] is curves.curves["train_acc"] and entries["validation photos"] is \
        curves.curves["val_acc"]
    assert entries["best round (the model kept)"] is curves.best_star
    assert pens["a new step starts"].style() == STAGE_PEN.style()
    assert all(item.isVisible() for item in entries.values())  # a hidden item's swatch is an eye icon
    view = curves.graphics
    swatch = curves.legend.items[1][0]
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton,
                     pos=view.mapFromScene(swatch.sceneBoundingRect().center()))
    assert curves.curves["val_acc"].isVisible()
    legend_rect = curves.legend.sceneBoundingRect()
    for plot in (curves.loss_plot, curves.acc_plot, curves.lr_plot):
        assert not legend_rect.intersects(plot.getViewBox().sceneBoundingRect())


def test_the_step_names_stand_above_the_plotted_area_never_on_a_curve(qtbot):
    """The step names ("new layer only", "whole network") are on the band above the accuracy plot, outside
    the area its curves are drawn in; the dashed lines that mark the change carry no label inside it."""
    import pyqtgraph as pg

    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.resize(820, 330)
    curves.show()
    _two_steps(curves)
    qtbot.wait(50)
    axis = curves.stage_axis
    assert axis is curves.acc_plot.getAxis("top") and axis.isVisible()
    assert axis.stages == [(0.5, 5.5, "new layer only"), (5.5, 8.5, "whole network")]
    low, high = curves.acc_plot.getViewBox().viewRange()[0]
    (_, values), = axis.tickValues(low, high, axis.width())
    assert axis.tickStrings(values, 1.0, 1.0) == ["new layer only", "whole network"]
    assert all(low < v < high for v in values)  # moved inwards when a name is wider than its rounds
    band, view = axis.sceneBoundingRect(), curves.acc_plot.getViewBox().sceneBoundingRect()
    assert band.bottom() <= view.top() + 1  # above the plotted area, not inside it
    lines = [item for item in curves.acc_plot.items if isinstance(item, pg.InfiniteLine)]
    assert lines and all(line.label is None for line in lines if hasattr(line, "label"))
    assert curves.stage_changes == [6]
    curves.clear()
    curves.add_epoch(_epoch(1, 1e-3))
    assert axis.stages == []  # one step: nothing to name


def test_the_plots_speak_plainly_with_the_technical_word_in_brackets(qtbot):
    curves = TrainingCurves()
    qtbot.addWidget(curves)
    titles = [p.titleLabel.text for p in (curves.loss_plot, curves.acc_plot, curves.lr_plot)]
    assert titles == ["Error (loss) — lower is better", "Photos right (%) — higher is better",
                      "Step size (learning rate)"]
    for plot in (curves.loss_plot, curves.acc_plot, curves.lr_plot):
        assert plot.getAxis("bottom").labelText == "round (epoch)"
        assert plot.toolTip()  # what the plot shows, technical word included
