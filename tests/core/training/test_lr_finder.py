"""The learning-rate range test on tiny data."""
import math
import os

import numpy as np
import pytest
from tinyrun import tiny_config

from flowerstudio.core.foundation.events import Cancelled, CancelToken, PhaseStarted, Progress
from flowerstudio.core.training.lr_finder import diverged, find_lr, suggest


def test_range_test_on_cached_features(tiny_data, tmp_path):
    events = []
    out = tmp_path / "runs"
    result = find_lr(tiny_config(tiny_data, out), start_lr=1e-6, end_lr=1.0, num_steps=60, callback=events.append)
    assert len(result.lrs) == len(result.losses) == 60 and not result.stopped_early
    assert result.lrs[0] == pytest.approx(1e-6) and result.lrs[-1] == pytest.approx(1.0)
    assert all(b > a for a, b in zip(result.lrs, result.lrs[1:]))
    assert all(math.isfinite(v) for v in result.losses)
    assert 1e-6 <= result.suggested_lr <= 1.0
    assert result.losses[-1] < result.losses[0]  # this data is learnable: the loss came down
    assert PhaseStarted("lr_find", 60) in events
    assert [e.done for e in events if isinstance(e, Progress) and e.phase == "lr_find"] == list(range(1, 61))
    assert not out.exists()  # no run folder was made


def test_stops_early_when_the_loss_diverges(tiny_data, tmp_path):
    # Label smoothing punishes the huge logits a far too high lr produces: the loss blows up.
    cfg = tiny_config(tiny_data, tmp_path, label_smoothing=0.3)
    result = find_lr(cfg, start_lr=1e-5, end_lr=1e4, num_steps=100)
    assert result.stopped_early and result.status == "completed"
    assert 2 < len(result.lrs) < 100
    assert result.losses[-1] > 4 * min(result.losses) or not math.isfinite(result.losses[-1])
    assert 1e-5 <= result.suggested_lr <= result.lrs[-1]


def test_a_near_zero_loss_that_wobbles_has_not_diverged():
    # A head trained to fit its photos starts the fine-tune test near 0.0005: 6x that is noise, not divergence.
    assert not diverged(0.003, best=0.0005)
    assert not diverged(0.35, best=0.0005)
    assert diverged(0.5, best=0.0005)  # 0.5 nats from 0.0005 is a model being wrecked
    assert diverged(4.1, best=1.0) and not diverged(3.9, best=1.0)
    assert diverged(math.nan, best=math.inf) and diverged(math.inf, best=0.2)
    assert not diverged(100.0, best=math.inf)  # the first step sets the bar


def test_fine_tuning_stage_through_images_leaves_the_run_alone(trained_run, tiny_data, tmp_path):
    run = trained_run.run_dir
    before = {f: os.stat(os.path.join(run, f)).st_mtime_ns for f in os.listdir(run)}
    cfg = tiny_config(tiny_data, tmp_path, train_mode="last_stages", resume_from=run, workers=0)
    result = find_lr(cfg, start_lr=1e-5, end_lr=1e-2, num_steps=5)
    assert len(result.lrs) == 5 and all(math.isfinite(v) for v in result.losses)
    assert 1e-5 <= result.suggested_lr <= 1e-2
    assert {f: os.stat(os.path.join(run, f)).st_mtime_ns for f in os.listdir(run)} == before


def test_cancel_keeps_the_steps_done(tiny_data, tmp_path):
    token = CancelToken()

    def cancel_at_three(event):
        if isinstance(event, Progress) and event.phase == "lr_find" and event.done == 3:
            token.cancel()

    with pytest.raises(Cancelled) as stop:
        find_lr(tiny_config(tiny_data, tmp_path), num_steps=50, callback=cancel_at_three, cancel=token)
    result = stop.value.partial
    assert result.status == "cancelled" and result.stopped_early and len(result.lrs) == 3


def test_suggestion_is_the_steepest_descent():
    lrs = list(np.logspace(-6, 0, 61))
    x = np.log10(lrs)
    losses = list(1.5 - np.tanh(2 * (x + 3)))  # falls fastest at lr 1e-3
    losses[-1] = 50.0  # a diverging last step is ignored
    assert suggest(lrs, losses) == pytest.approx(1e-3, rel=0.3)


def test_bad_arguments(tiny_data, tmp_path):
    with pytest.raises(ValueError):
        find_lr(tiny_config(tiny_data, tmp_path), start_lr=1.0, end_lr=1e-3)
    with pytest.raises(ValueError):
        find_lr(tiny_config(tiny_data, tmp_path), num_steps=1)


def test_cli_find_lr(tiny_data, tmp_path, capsys):
    from flowerstudio.cli import main

    curve = tmp_path / "curve.csv"
    code = main(["find-lr", str(tiny_data), "--input-size", "64", "--batch-size", "8", "--steps", "30",
                 "--cache-views", "2", "--output", str(tmp_path / "runs"), "--csv", str(curve)])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 0 and out[-1].startswith("suggested learning rate ") and "30 steps" in out[-1]
    rows = curve.read_text().splitlines()
    assert rows[0] == "lr,loss" and len(rows) == 31
