"""The advice after a stage (core/training/plan.py): measured against guessing, compared exactly with the
stage before, and a next step that follows the data, with its cost."""
import pytest

from flowerstudio.core.foundation.events import EpochMetrics
from flowerstudio.core.foundation.vocab import TrainMode
from flowerstudio.core.training.plan import (
    FINE_TUNE_EPOCHS, MORE_HEAD_EPOCHS, NextStep, advise, duration, fine_tune_depth, most_confused, still_learning,
)

VAL = 40  # validation photos of these made-up runs


def epochs(stage, accs, losses, start=1):
    return [EpochMetrics(start + i, stage, 1.0, 0.5, loss, round(acc * VAL) / VAL, 1e-3, 1.0,
                         val_correct=round(acc * VAL), val_total=VAL)
            for i, (acc, loss) in enumerate(zip(accs, losses))]


def plateau(n=30, acc=0.675):
    """The issue's frozen stage: better until epoch 16, then flat; the loss creeping down by 0.5 %."""
    half = n // 2
    accs = [0.4 + (acc - 0.4) * min(i, half) / half for i in range(n)]
    losses = [1.5 - 0.5 * min(i, half) / half - 0.005 * max(0, i - half) / half for i in range(n)]
    return epochs("frozen", accs, losses)


def test_result_is_measured_against_guessing():
    a = advise(epochs("frozen", [0.5, 0.6, 0.65], [1.2, 1.1, 1.15]), 5, 40, 1e-3)
    assert "65.0 % (26 of 40)" in a.result and "guessing would get 20 %" in a.result and "3.2×" in a.result


def test_a_plateau_is_not_still_learning_so_the_advice_does_not_ask_for_more_head_epochs():
    history = plateau()
    assert not still_learning(history)
    a = advise(history, 5, 40, 1e-3)
    assert a.step is NextStep.FINE_TUNE and "more rounds" in a.next_step
    assert a.plan.mode is TrainMode.ALL and a.plan.epochs == FINE_TUNE_EPOCHS and a.plan.lr == pytest.approx(1e-4)


def test_a_head_still_getting_better_by_a_margin_trains_more():
    history = epochs("frozen", [0.5, 0.6, 0.65, 0.7, 0.75, 0.8], [1.2, 1.0, 0.9, 0.8, 0.7, 0.6])
    a = advise(history, 5, 40, 1e-3)
    assert a.step is NextStep.TRAIN_MORE and a.plan.mode is TrainMode.FROZEN and a.plan.epochs == MORE_HEAD_EPOCHS
    assert a.plan.lr == 1e-3  # more head epochs continue at the head's own rate
    assert f"{MORE_HEAD_EPOCHS} more rounds" in a.next_step


@pytest.mark.parametrize("per_class, mode", [(5, TrainMode.LAST_STAGES), (9.5, TrainMode.LAST_STAGES),
                                             (10, TrainMode.ALL), (40, TrainMode.ALL), (200, TrainMode.ALL)])
def test_fine_tune_depth_follows_photos_per_class(per_class, mode):
    a = advise(plateau(), 5, per_class, 1e-3)
    assert (a.step, a.plan.mode) == (NextStep.FINE_TUNE, mode)
    assert fine_tune_depth(per_class)[0] is mode  # the default depth and the advice agree
    assert ("whole network" in a.next_step) == (mode is TrainMode.ALL)
    assert ("40 or more would help most" in a.next_step) == (per_class < 30)


@pytest.mark.parametrize("per_class, step", [(40, NextStep.TRAIN_MORE), (99, NextStep.TRAIN_MORE),
                                             (100, NextStep.FINE_TUNE), (143, NextStep.FINE_TUNE)])
def test_a_head_still_learning_trains_more_unless_there_are_many_photos(per_class, step):
    """With ~140 photos per class fine-tuning gained where more head epochs did not (benchmarks/advice.py)."""
    a = advise(epochs("frozen", [0.5, 0.6, 0.7], [1.2, 1.0, 0.9]), 5, per_class, 1e-3)
    assert a.step is step


def test_the_cost_of_fine_tuning_is_given_when_this_computer_s_speed_is_known():
    a = advise(plateau(), 5, 40, 1e-3, seconds=lambda mode, n: 507.0 if mode is TrainMode.ALL else None)
    assert a.plan.seconds == 507.0 and "about 8 minutes on this computer" in a.next_step
    assert "gained" in a.next_step and "Predict" in a.next_step  # what it may bring, and the way out
    unknown = advise(plateau(), 5, 40, 1e-3)
    assert unknown.plan.seconds is None and "minute" not in unknown.next_step


def test_a_fine_tune_that_ties_keeps_the_earlier_model_and_points_at_the_photos():
    """The issue's run: both stages 70.0 %, the frozen one with the lower loss: no gain, and it says so."""
    history = epochs("frozen", [0.6, 0.7, 0.7], [1.0, 0.885, 0.89]) + epochs("all", [0.65, 0.7], [0.95, 0.9], 4)
    pair = ("tulip", "rose", 4)
    a = advise(history, 5, 40, 1e-4, confused=pair)
    assert a.step is NextStep.IMPROVE_DATA and a.plan is None
    assert "No gain" in a.next_step and "earlier stage is kept" in a.next_step
    assert "Before this stage: 70.0 % (28 of 40)" in a.result and "Up from" not in a.result
    assert "more photos of tulip" in a.next_step


def test_a_fine_tune_that_ties_on_accuracy_with_a_lower_loss_says_so_not_up_from_the_same_figure():
    """As seen in a walk: both stages 92.5 % (37 of 40), the fine-tune's loss 0.228 against 0.316. Its model is
    the better one by the tie-break, and the words say why, rather than "Up from 92.5 %"."""
    history = epochs("frozen", [0.9, 0.925, 0.925], [0.4, 0.33, 0.316]) + epochs("all", [0.9, 0.925], [0.25, 0.228], 4)
    a = advise(history, 5, 40, 1e-4)
    assert "Up from" not in a.result and "No gain" not in a.next_step
    assert "As many right as before this stage (92.5 % (37 of 40))" in a.result
    assert "loss 0.228, was 0.316" in a.result


def test_fine_tuning_that_helped_and_settled_points_to_predict():
    history = plateau(12, 0.65) + epochs("all", [0.7, 0.75, 0.75, 0.75], [0.9, 0.8, 0.79, 0.8], 13)
    a = advise(history, 5, 40, 1e-4)
    assert a.step is NextStep.PREDICT and "Up from 65.0 %" in a.result and a.plan is None


def test_a_fine_tune_still_improving_offers_more_of_the_same_with_its_cost():
    history = plateau(12, 0.65) + epochs("all", [0.66, 0.7, 0.75], [1.0, 0.9, 0.8], 13)
    a = advise(history, 5, 40, 1e-4, unfreeze_stages=2, seconds=lambda mode, n: 90.0)
    assert a.step is NextStep.TRAIN_MORE and a.plan.mode is TrainMode.ALL and a.plan.lr == 1e-4
    assert "about 2 minutes" in a.next_step


def test_the_most_confused_classes_are_named():
    pair = most_confused([[5, 0, 1], [4, 3, 0], [0, 0, 6]], ["rose", "tulip", "daisy"])
    assert pair == ("tulip", "rose", 4)
    assert most_confused([[3, 0], [0, 4]], ["a", "b"]) is None and most_confused(None, ["a"]) is None


@pytest.mark.parametrize("seconds, words", [(20, "under a minute"), (61, "about 1 minute"), (507, "about 8 minutes"),
                                            (7200, "about 2.0 hours")])
def test_durations_read_plainly(seconds, words):
    assert duration(seconds) == words
