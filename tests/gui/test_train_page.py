"""Train page: a real frozen run, fine-tuning from it, stopping, closing, errors."""
import os
import re
import shutil

from helpers import scan, tiny_setup

from flowerstudio.gui.state import Page


def wait_devices(qtbot, window):
    """The device list needs torch, found in the background at start-up."""
    qtbot.waitUntil(lambda: window.device_label.text() != "Device: …", timeout=60000)


def test_train_then_fine_tune(qtbot, window, tiny_dataset):
    wait_devices(qtbot, window)
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window)
    assert page.train_btn.isEnabled() and not page.finetune_btn.isEnabled()
    with qtbot.waitSignal(page.training_done, timeout=120000) as blocker:
        page.train_btn.click()
        assert page.stop_btn.isEnabled() and not page.train_btn.isEnabled()
    result = blocker.args[0]
    assert result.status == "completed"
    assert os.path.isfile(result.best_path) and result.best_path.startswith(window.state.runs_dir)
    curves = page.progress.curves
    assert len(curves.points("val_acc")) == 1 and curves.best_epoch == 1
    assert "Best so far" in page.progress.best_label.text() and "(round 1)" in page.progress.best_label.text()
    assert window.state.model_path == result.best_path
    # One round: still learning, so the advice (the core's plan) is to train the new layer more, in seconds.
    qtbot.waitUntil(lambda: page.advice is not None, timeout=60000)
    assert "guessing would get 33 %" in page.run_label.text() and "Next:</b> Train the new layer 10 more rounds" \
        in page.run_label.text()
    assert re.search(r"Run finished after (\d+ min )?\d+ s:", page.run_label.text())  # seconds, not "0.0 min"
    assert page.finetune_btn.isEnabled() and page.finetune_btn.text() == "Train the new layer more (seconds)"
    plan = page.next_plan()
    assert plan.mode == "frozen" and plan.lr == page.options.lr.value()  # the head's rate, not fine-tuning's
    assert "The next step will train the new layer for 10 more rounds." == page.options.hint.text()
    page.options.depth.setCurrentIndex(page.options.depth.findData("all"))  # the user decides otherwise
    assert page.finetune_btn.text() == "Fine-tune the whole network (slower)"
    assert "as chosen here" in page.options.hint.text()

    with qtbot.waitSignal(page.training_done, timeout=120000) as blocker:
        page.finetune_btn.click()
    tuned = blocker.args[0]
    assert tuned.run_dir == result.run_dir  # the same run continues
    from flowerstudio.core.foundation.config import TrainConfig

    stage = TrainConfig.load(os.path.join(tuned.run_dir, "config.json"))  # what the run folder says it ran
    assert stage.lr < page.options.lr.value() and stage.train_mode == "all"
    assert [m.stage for m in curves.history] == ["frozen", "all"]
    assert curves.stage_changes == [2]
    assert len(curves.points("train_loss")) == 2 and len(curves.points("lr")) == 2
    assert "epoch 2" in page.progress.log.toPlainText()
    best = [m for m in curves.history if m.is_best][-1]
    assert f"(round {best.epoch})" in page.progress.best_label.text() and best.epoch == tuned.best_epoch
    # The fine-tune gained or not: the page says which, from the core's exact comparison.
    assert ("no gain from this stage" in page.run_label.text()) == (not tuned.gained)


def test_stop_is_acknowledged_and_stays_on_screen_until_the_stage_ends(qtbot, window, tiny_dataset):
    from flowerstudio.core.foundation.events import Progress
    from flowerstudio.gui.pages.train_progress import STOPPING

    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window, epochs=200)
    page.options.overrides = {"cache_views": 1, "feature_cache": False}  # a slow, image-by-image run
    page.train_btn.click()
    qtbot.waitUntil(lambda: "left in this step" in page.progress.phase_label.text(), timeout=120000)
    page.stop_btn.click()
    assert page.progress.phase_label.text() == STOPPING and not page.stop_btn.isEnabled()
    page._on_event(Progress("train", 1, 3, 2, loss=0.5, eta=9.0, stage_eta=99.0))  # a batch under way
    assert page.progress.phase_label.text() == STOPPING  # not overwritten by a late progress line
    with qtbot.waitSignal(page.training_done, timeout=60000):
        pass
    assert "stopped" in page.progress.phase_label.text()


def test_stop_keeps_best_checkpoint(qtbot, window, tiny_dataset):
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window, epochs=200)
    page.options.overrides = {"cache_views": 1, "feature_cache": False}  # a slow, image-by-image run
    page.train_btn.click()
    qtbot.waitUntil(lambda: len(page.progress.curves.history) >= 1, timeout=120000)
    with qtbot.waitSignal(page.training_done, timeout=60000) as blocker:
        page.stop_btn.click()
    result = blocker.args[0]
    assert result.status == "cancelled"
    assert result.best_path and os.path.isfile(result.best_path)
    assert len(result.history) < 200
    qtbot.waitUntil(lambda: page.advice is not None, timeout=60000)  # the advice for the stopped stage
    assert page.train_btn.isEnabled() and page.finetune_btn.isEnabled()
    assert "Run stopped after" in page.run_label.text()
    # A stage cut short is no verdict: the second button finishes it, in the same run, where it stopped.
    done = len(result.history)
    assert page.next_plan().finish and page.next_plan().epochs == 200 - done
    assert page.finetune_btn.text().startswith(f"Finish the stopped step ({200 - done} rounds, ")
    assert "unlikely to help" not in page.run_label.text() and "Finish the stopped step" not in page.run_label.text()
    page.finetune_btn.click()
    qtbot.waitUntil(lambda: len(page.progress.curves.history) > done, timeout=120000)
    with qtbot.waitSignal(page.training_done, timeout=60000) as blocker:
        page.stop_btn.click()
    again = blocker.args[0]
    assert again.run_dir == result.run_dir and again.status == "cancelled"
    epochs = [m.epoch for m in again.history]
    assert epochs == list(range(1, len(epochs) + 1)) and len(epochs) > done  # continued, not restarted


def test_close_during_training_stops_worker(qtbot, window, tiny_dataset, messages):
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window, epochs=200)
    page.options.overrides = {"cache_views": 1, "feature_cache": False}
    page.train_btn.click()
    qtbot.waitUntil(lambda: page.progress.batch_bar.value() > 0 or bool(page.progress.curves.history),
                    timeout=120000)
    task = page.task
    messages.answer = False  # "Keep training"
    assert not window.close()
    assert task.running and "training run is still going" in messages.asked[-1]
    messages.answer = True  # "Stop and quit"
    window.close()
    # Quitting shows that it stops, and closes once the run has stopped (each job within a batch).
    assert "Stopping" in window.run_label.text() and task.token.cancelled
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=60000)
    assert not task.running and task.wait(0)


def test_worker_error_shows_dialog_and_app_stays_usable(qtbot, window, tiny_dataset, messages):
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window)
    shutil.rmtree(tiny_dataset)  # the folder vanished after scanning
    page.train_btn.click()
    qtbot.waitUntil(lambda: not page.is_busy(), timeout=60000)
    assert messages.shown, "an error dialog was shown"
    box = messages.shown[-1]
    assert box.title == "Training failed" and "Traceback" in box.details
    assert page.train_btn.isEnabled()


def test_previous_run_is_offered_for_fine_tuning(qtbot, window, tiny_dataset):
    from flowerstudio.core.foundation.config import TrainConfig
    from flowerstudio.core.training.trainer import train

    result = train(TrainConfig(data_dir=str(tiny_dataset), input_size=64, batch_size=8, epochs=1, cache_views=1,
                               device="cpu", output_dir=window.state.runs_dir))
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    assert page.best_path == result.best_path
    qtbot.waitUntil(lambda: page.advice is not None, timeout=60000)  # read from the run in the background
    assert page.finetune_btn.isEnabled() and len(page.progress.curves.history) == 1
    assert "Latest run on this dataset" in page.run_label.text()


def test_after_a_retrain_on_the_predict_page_the_train_page_shows_the_new_run(qtbot, window, tiny_dataset):
    """Retrain (Predict page) trains the new layer again in a run of its own and, when the verdict says so, uses
    its model: the Train page then shows that run — its rounds, its log, its advice — and its second button
    continues that run, never the one trained before (whose curves it showed until then)."""
    from flowerstudio.core.training.retrain import retrain_head
    from flowerstudio.gui import engine

    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window, epochs=2)
    with qtbot.waitSignal(page.training_done, timeout=120000) as first:
        page.train_btn.click()
    qtbot.waitUntil(lambda: page.advice is not None, timeout=60000)
    old = first.args[0]
    predict = window.predict_page  # it labels photos with the fresh model, as when its Retrain is pressed
    qtbot.waitUntil(lambda: predict.model_path == old.best_path and not predict.is_busy(), timeout=60000)
    page.progress.epoch_label.setText("Round 2 / 2 · new layer only")  # as the finished stage left it
    retrained, _verdict = retrain_head(old.best_path, data_dir=str(tiny_dataset))  # what engine.retrain runs
    assert retrained.run_dir != old.run_dir
    predict.review.retrained.emit(retrained.best_path)  # the ReviewBar, when the verdict switches
    assert window.state.run_dir == retrained.run_dir
    assert page.run_dir == retrained.run_dir and page.best_path == retrained.best_path
    assert page.advice is None and not page.finetune_btn.isEnabled()  # the old run's plan is not offered for it
    assert [(m.epoch, m.val_acc) for m in page.progress.curves.history] == \
        [(m.epoch, m.val_acc) for m in retrained.history]
    assert page.progress.epoch_label.text() == "Round: –" and retrained.run_dir in page.progress.log.toPlainText()
    assert f"The run of the model in use: {retrained.run_dir}" in page.run_label.text()
    qtbot.waitUntil(lambda: page.advice is not None and not predict.is_busy(), timeout=60000)  # its own advice
    assert page.run_dir == retrained.run_dir and predict.model_path == retrained.best_path
    assert "Next:" in page.run_label.text() and page.finetune_btn.isEnabled()
    assert engine.next_config(page.run_dir, page.next_plan()).resume_from.startswith(retrained.run_dir)


JARGON = re.compile(r"\b(backbone|frozen|unfreez\w*|head|epochs?|loss|learning rate)\b", re.IGNORECASE)


def shown_words(page) -> list[str]:
    """Every text the Train page shows outside Advanced and the run's log, tooltips aside; the plots' included."""
    from PySide6.QtWidgets import QAbstractButton, QComboBox, QGroupBox, QLabel, QProgressBar, QWidget

    texts = []
    for w in page.findChildren(QWidget):
        if not w.isVisibleTo(page) or page.options.advanced.body.isAncestorOf(w):
            continue
        if isinstance(w, (QLabel, QAbstractButton)):
            texts.append(w.text())
        elif isinstance(w, QGroupBox):
            texts.append(w.title())
        elif isinstance(w, QComboBox):
            texts += [w.itemText(i) for i in range(w.count())]
        elif isinstance(w, QProgressBar):
            texts.append(w.text())
    curves = page.progress.curves
    for plot in (curves.loss_plot, curves.acc_plot, curves.lr_plot):
        texts += [plot.titleLabel.text, plot.getAxis("bottom").labelText]
    texts += [label.text for _, label in curves.legend.items]
    return texts + [name for _, _, name in curves.stage_axis.stages]


def test_the_main_flow_speaks_plainly(qtbot, window, tiny_dataset):
    """A newcomer never needs "backbone", "frozen", "head", "epoch", "loss" or "learning rate" on the Train page:
    they stay under Advanced, in tooltips and brackets ("Error (loss)", "round (epoch)") and in the run's log."""
    from flowerstudio.core.foundation.config import TrainConfig
    from flowerstudio.core.training.trainer import train

    first = train(TrainConfig(data_dir=str(tiny_dataset), input_size=64, batch_size=8, epochs=1, cache_views=1,
                              device="cpu", output_dir=window.state.runs_dir))
    train(TrainConfig(data_dir=str(tiny_dataset), input_size=64, batch_size=8, epochs=1, device="cpu",
                      train_mode="all", lr=1e-4, resume_from=first.run_dir, output_dir=window.state.runs_dir))
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    window.go_to(Page.TRAIN)
    page.options.advanced.toggle.setChecked(False)
    qtbot.waitUntil(lambda: page.advice is not None, timeout=60000)
    texts = shown_words(page)
    assert "new layer only" in texts and "whole network" in texts  # the steps, named over their rounds
    bare = [t for t in texts if JARGON.search(re.sub(r"\([^)]*\)", "", t))]  # bracketed terms are explained
    assert bare == []
    page.options.advanced.toggle.setChecked(True)
    assert page.options.lr.isVisibleTo(page) and page.options.keep_bn.isVisibleTo(page)  # all there, under Advanced


def test_the_epoch_axis_labels_whole_epochs_only(qtbot):
    from flowerstudio.core.foundation.events import EpochMetrics
    from flowerstudio.gui.widgets.curves import TrainingCurves

    curves = TrainingCurves()
    qtbot.addWidget(curves)
    curves.set_history([EpochMetrics(e, "frozen", 1.0 / e, 0.5, 1.0 / e, 0.5, 1e-3, 1.0) for e in (1, 2, 3)])
    axis = curves.loss_plot.getAxis("bottom")
    ticks = [v for _, values in axis.tickValues(0.5, 3.5, 400) for v in values]
    assert sorted(set(ticks)) == [1.0, 2.0, 3.0]  # pyqtgraph alone also puts ticks at 1.5 and 2.5
    assert axis.tickStrings([1.0, 2.0, 3.0], 1.0, 1.0) == ["1", "2", "3"]


def test_durations_read_as_people_say_them():
    from flowerstudio.gui.style import fmt_duration, fmt_eta

    assert [fmt_duration(s) for s in (2.4, 59.6, 65, 3725)] == ["2 s", "1 min 00 s", "1 min 05 s", "1 h 02 min"]
    assert fmt_eta(65) == "1 min 05 s left" and fmt_eta(None) == ""
