"""The advice after a stage: measured against guessing, and a next step that follows the data."""
import pytest

from flowerstudio.core.advice import NextStep, advise, fine_tune_depth, most_confused
from flowerstudio.core.events import EpochMetrics
from flowerstudio.core.vocab import TrainMode


def epochs(stage, accs, losses, start=1):
    return [EpochMetrics(start + i, stage, 1.0, 0.5, loss, acc, 1e-3, 1.0)
            for i, (acc, loss) in enumerate(zip(accs, losses))]


def test_result_is_measured_against_guessing():
    a = advise(epochs("frozen", [0.5, 0.6, 0.65], [1.2, 1.1, 1.15]), num_classes=5, per_class=40)
    assert "65.0%" in a.result and "guessing would get 20%" in a.result and "3.2×" in a.result


def test_still_falling_loss_means_train_more():
    a = advise(epochs("frozen", [0.5, 0.6, 0.7], [1.2, 1.0, 0.9]), num_classes=5, per_class=40)
    assert a.step is NextStep.TRAIN_MORE and a.mode is TrainMode.FROZEN and "more epochs" in a.next_step


@pytest.mark.parametrize("per_class, mode", [(5, TrainMode.LAST_STAGES), (9.5, TrainMode.LAST_STAGES),
                                             (10, TrainMode.ALL), (40, TrainMode.ALL), (200, TrainMode.ALL)])
def test_fine_tune_depth_follows_photos_per_class(per_class, mode):
    a = advise(epochs("frozen", [0.5, 0.7, 0.65, 0.66], [1.2, 0.9, 1.0, 1.1]), num_classes=5,
               per_class=per_class)
    assert (a.step, a.mode) == (NextStep.FINE_TUNE, mode)
    assert fine_tune_depth(per_class)[0] is mode  # the default depth and the advice agree
    assert ("all layers" in a.next_step) == (mode is TrainMode.ALL)
    assert ("More photos would help most" in a.next_step) == (per_class < 30)


@pytest.mark.parametrize("per_class, step", [(40, NextStep.TRAIN_MORE), (99, NextStep.TRAIN_MORE),
                                             (100, NextStep.FINE_TUNE), (143, NextStep.FINE_TUNE)])
def test_a_head_still_learning_trains_more_unless_there_are_many_photos(per_class, step):
    """With ~140 photos per class fine-tuning gained where more head epochs did not (benchmarks/advice.py)."""
    a = advise(epochs("frozen", [0.5, 0.6, 0.7], [1.2, 1.0, 0.9]), num_classes=5, per_class=per_class)
    assert a.step is step
    if step is NextStep.FINE_TUNE:
        assert a.mode is TrainMode.ALL and "still learning" in a.next_step and f"{per_class} photos" in a.next_step
    else:
        assert a.mode is TrainMode.FROZEN and "Train 10 more epochs" in a.next_step


def test_fine_tuning_that_did_not_help_is_said_so():
    history = epochs("frozen", [0.5, 0.65, 0.64], [1.2, 1.0, 1.05]) + epochs("all", [0.55, 0.575], [1.3, 1.4], 4)
    a = advise(history, num_classes=5, per_class=40)
    assert a.step is NextStep.PREDICT and "did not help" in a.next_step and "65.0%" in a.result


def test_fine_tuning_that_helped_and_settled_points_to_predict():
    history = epochs("frozen", [0.5, 0.65, 0.64], [1.2, 1.0, 1.05]) + epochs("all", [0.7, 0.75, 0.74], [0.9, 0.8, 0.85], 4)
    a = advise(history, num_classes=5, per_class=40)
    assert a.step is NextStep.PREDICT and "Up from 65.0%" in a.result


def test_the_most_confused_classes_are_named():
    pair = most_confused([[5, 0, 1], [4, 3, 0], [0, 0, 6]], ["rose", "tulip", "daisy"])
    assert pair == ("tulip", "rose", 4)
    a = advise(epochs("frozen", [0.5, 0.7, 0.65], [1.2, 0.9, 1.0]), num_classes=3, per_class=40, confused=pair)
    assert "more photos of tulip" in a.next_step
    assert most_confused([[3, 0], [0, 4]], ["a", "b"]) is None
