"""The second button's plan for a run folder (next_stage.py): a stage cut short is finished first."""
import pytest
from tinyrun import tiny_config

from flowerstudio.core.foundation.events import Cancelled, CancelToken, EpochEnd
from flowerstudio.core.foundation.vocab import TrainMode
from flowerstudio.core.runs.record import RunRecord
from flowerstudio.core.training.next_stage import advice_for_run, run_plan
from flowerstudio.core.training.plan import NextStep
from flowerstudio.core.training.trainer import train


def _stopped_after(epochs_done: int, cfg):
    token, seen = CancelToken(), []

    def stop(event):
        if isinstance(event, EpochEnd):
            seen.append(event)
            if len(seen) == epochs_done:
                token.cancel()

    with pytest.raises(Cancelled) as stopped:
        train(cfg, stop, token)
    return stopped.value.partial


def test_a_stopped_stage_is_finished_first_then_the_advice_judges_it(tiny_data, tmp_path):
    """As seen in a walk: Stop after 2 of a stage's rounds, and the advice said "training longer is unlikely
    to help now" of a stage that never ran its course. Now it offers the rounds left, and runs them in the
    same run folder, from where the stage stopped."""
    partial = _stopped_after(1, tiny_config(tiny_data, tmp_path, epochs=3, feature_cache=False))
    record = RunRecord.load(partial.run_dir)
    assert record.epochs_left() == 2
    advice = advice_for_run(record)
    assert advice.step is NextStep.FINISH and advice.plan.finish and advice.plan.epochs == 2
    assert "stopped with 2 of its 3 rounds still to run" in advice.next_step
    assert advice.plan.words() == "finish the stopped step (train the new layer): its last 2 rounds"

    result = run_plan(record, advice.plan)
    assert result.run_dir == partial.run_dir and [m.epoch for m in result.history] == [1, 2, 3]
    assert record.epochs_left() == 0 and advice_for_run(record).step is not NextStep.FINISH


def test_a_finished_stage_has_nothing_left_and_a_new_stage_s_early_stop_offers_nothing_to_finish(tiny_data, tmp_path):
    """last_state.pt belongs to the last finished round: a stage stopped before its first round ended has
    no state of its own, so nothing is resumed with another stage's optimizer."""
    done = train(tiny_config(tiny_data, tmp_path, epochs=2, feature_cache=False))
    record = RunRecord.load(done.run_dir)
    assert record.epochs_left() == 0
    record.config.epochs = 5  # as if the next stage's config were written and it stopped before a round ended
    record.config.train_mode = TrainMode.ALL
    assert record.epochs_left() == 0
