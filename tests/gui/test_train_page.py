"""Train page: a real frozen run, fine-tuning from it, stopping, closing, errors."""
import os
import shutil

from helpers import scan, tiny_setup

from flowerstudio.gui import dialogs


def wait_catalog(qtbot, window):
    opts = window.train_page.options
    if not opts.num_stages:
        with qtbot.waitSignal(opts.catalog_loaded, timeout=60000):
            pass


def test_train_then_fine_tune(qtbot, window, tiny_dataset):
    wait_catalog(qtbot, window)
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window)
    assert page.train_btn.isEnabled() and not page.finetune_btn.isEnabled()
    with qtbot.waitSignal(page.training_done, timeout=120000) as blocker:
        page.train_btn.click()
        assert page.stop_btn.isEnabled() and not page.train_btn.isEnabled()
    result = blocker.args[0]
    assert result.status == "completed"
    assert os.path.isfile(result.best_path) and result.best_path.startswith(window.state.output_dir)
    assert len(page.curves.points("val_acc")) == 1 and page.curves.best_epoch == 1
    assert "Best validation accuracy" in page.best_label.text()
    assert window.state.last_model == result.best_path
    assert page.finetune_btn.isEnabled() and page.finetune_btn.text() == "Fine-tune all layers (unfreeze)"

    with qtbot.waitSignal(page.training_done, timeout=120000) as blocker:
        page.finetune_btn.click()
    tuned = blocker.args[0]
    assert tuned.run_dir == result.run_dir  # the same run continues
    assert page.config.lr < page.options.lr.value() and page.config.train_mode == "all"
    assert [m.stage for m in page.curves.history] == ["frozen", "all"]
    assert page.curves.stage_changes == [2]
    assert len(page.curves.points("train_loss")) == 2 and len(page.curves.points("lr")) == 2
    assert "epoch 2" in page.log.toPlainText()


def test_stop_keeps_best_checkpoint(qtbot, window, tiny_dataset):
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window, epochs=200)
    page.options.overrides = {"cache_views": 1, "feature_cache": False}  # a slow, image-by-image run
    page.train_btn.click()
    qtbot.waitUntil(lambda: len(page.curves.history) >= 1, timeout=120000)
    with qtbot.waitSignal(page.training_done, timeout=60000) as blocker:
        page.stop_btn.click()
    result = blocker.args[0]
    assert result.status == "cancelled"
    assert result.best_path and os.path.isfile(result.best_path)
    assert len(result.history) < 200
    assert page.train_btn.isEnabled() and page.finetune_btn.isEnabled()


def test_close_during_training_stops_worker(qtbot, window, tiny_dataset):
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window, epochs=200)
    page.options.overrides = {"cache_views": 1, "feature_cache": False}
    page.train_btn.click()
    qtbot.waitUntil(lambda: page.batch_bar.value() > 0 or len(page.curves.history) > 0, timeout=120000)
    task = page.task
    dialogs.test_answer = False  # "Keep training"
    assert not window.close()
    assert task.running
    dialogs.test_answer = True  # "Stop and quit"
    assert window.close()
    assert not task.running and task.token.cancelled
    assert task.wait(0)


def test_worker_error_shows_dialog_and_app_stays_usable(qtbot, window, tiny_dataset):
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    tiny_setup(window)
    shutil.rmtree(tiny_dataset)  # the folder vanished after scanning
    with qtbot.waitSignal(page.task_done if hasattr(page, "task_done") else window.state.busy_changed,
                          timeout=60000, check_params_cb=lambda busy: busy is False):
        page.train_btn.click()
    assert dialogs.shown, "an error dialog was shown"
    box = dialogs.shown[-1]
    assert box.windowTitle() == "Training failed" and "Traceback" in box.detailedText()
    assert page.train_btn.isEnabled()


def test_previous_run_is_offered_for_fine_tuning(qtbot, window, tiny_dataset):
    from flowerstudio.core.config import TrainConfig
    from flowerstudio.core.trainer import train

    result = train(TrainConfig(data_dir=str(tiny_dataset), input_size=64, batch_size=8, epochs=1, cache_views=1,
                               device="cpu", output_dir=window.state.output_dir))
    scan(qtbot, window, tiny_dataset)
    page = window.train_page
    assert page.best_path == result.best_path
    assert page.finetune_btn.isEnabled() and len(page.curves.history) == 1
    assert "Latest run on this dataset" in page.run_label.text()
