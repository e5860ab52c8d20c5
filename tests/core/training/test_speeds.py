"""How long the advice says a stage takes here: measured speeds first, else an estimate from extraction."""
from flowerstudio.core.foundation.vocab import TrainMode
from flowerstudio.core.training import speeds


def test_a_measured_speed_wins_and_before_one_the_extraction_speed_gives_an_estimate(tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWERSTUDIO_SPEEDS_FILE", str(tmp_path / "speeds.json"))
    assert speeds.training_speed("efficientnet_lite0", "cpu", 224, TrainMode.ALL) is None  # nothing known yet
    speeds.record("efficientnet_lite0", "cpu", 224, speeds.EXTRACT, 160.0)
    full = speeds.training_speed("efficientnet_lite0", "cpu", 224, TrainMode.ALL)
    last = speeds.training_speed("efficientnet_lite0", "cpu", 224, TrainMode.LAST_STAGES)
    # The app's epochs as benchmarks/finetune.py measured them: 41-55 photos/s all layers, 153-186 the last
    # stages, from an extraction at 150-170: an estimate within a third of those, not the plain loop's 26-79.
    assert 40 < full < 70 and 140 < last < 250
    speeds.record("efficientnet_lite0", "cpu", 224, TrainMode.ALL, 23.0)  # a run measured this computer
    assert speeds.training_speed("efficientnet_lite0", "cpu", 224, TrainMode.ALL) == 23.0
    assert speeds.training_speed("efficientnet_lite0", "cpu", 128, TrainMode.ALL) is None  # another size


def test_an_unreadable_speeds_file_means_no_figure_not_an_error(tmp_path, monkeypatch):
    path = tmp_path / "speeds.json"
    path.write_text("{not json")
    monkeypatch.setenv("FLOWERSTUDIO_SPEEDS_FILE", str(path))
    assert speeds.training_speed("efficientnet_lite0", "cpu", 224, TrainMode.ALL) is None
    speeds.record("efficientnet_lite0", "cpu", 224, TrainMode.ALL, 50.0)  # rewritten whole, atomically
    assert speeds.training_speed("efficientnet_lite0", "cpu", 224, TrainMode.ALL) == 50.0
