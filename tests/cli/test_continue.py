"""``flowerstudio continue RUN`` runs what the Train page's second button would: after a stop, the stage's
remaining rounds, in the same run folder."""
import json
from pathlib import Path

import pytest
from tinyrun import tiny_config

from flowerstudio.cli import main
from flowerstudio.core.foundation.events import Cancelled, CancelToken, EpochEnd
from flowerstudio.core.training.trainer import train


def test_continue_after_a_stop_finishes_the_stage_in_the_same_run(tiny_data, tmp_path, capsys):
    token = CancelToken()
    with pytest.raises(Cancelled) as stopped:
        train(tiny_config(tiny_data, tmp_path, epochs=3, feature_cache=False),
              lambda e: token.cancel() if isinstance(e, EpochEnd) else None, token)
    run = Path(stopped.value.partial.run_dir)

    assert main(["continue", str(run), "--advice"]) == 0  # says what it would run, runs nothing
    assert "Running:" not in capsys.readouterr().out and len(json.loads((run / "history.json").read_text())) == 1
    assert main(["continue", str(run)]) == 0
    said = capsys.readouterr().out
    assert "stopped with 2 of its 3 rounds still to run" in said
    assert "Running: finish the stopped step (train the new layer): its last 2 rounds" in said
    assert [e["epoch"] for e in json.loads((run / "history.json").read_text())] == [1, 2, 3]
