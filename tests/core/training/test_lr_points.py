import pytest
"""The range test reports its curve as it goes: one LrPoint per step, the same numbers as the result."""
from tinyrun import tiny_config

from flowerstudio.core.foundation.events import Cancelled, CancelToken, LrPoint
from flowerstudio.core.training.lr_finder import find_lr


def test_one_point_per_step(tiny_data, tmp_path):
    events = []
    result = find_lr(tiny_config(tiny_data, tmp_path), start_lr=1e-5, end_lr=1e-1, num_steps=12,
                     callback=events.append)
    points = [e for e in events if isinstance(e, LrPoint)]
    assert [p.step for p in points] == list(range(1, 13)) and {p.total for p in points} == {12}
    assert [p.lr for p in points] == result.lrs and [p.loss for p in points] == result.losses


def test_points_stop_with_a_cancel(tiny_data, tmp_path):
    token = CancelToken()
    points = []

    def callback(event):
        if isinstance(event, LrPoint):
            points.append(event)
            if event.step == 3:
                token.cancel()

    with pytest.raises(Cancelled) as stop:
        find_lr(tiny_config(tiny_data, tmp_path), num_steps=20, callback=callback, cancel=token)
    result = stop.value.partial
    assert result.status == "cancelled" and len(points) == 3 and [p.lr for p in points] == result.lrs
