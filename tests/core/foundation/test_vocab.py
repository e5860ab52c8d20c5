"""The vocabulary enums: parsed from plain words, written back as plain words, used by config and events."""
import csv
import io
import json

import pytest

from flowerstudio.cli import main
from flowerstudio.core.foundation.config import ConfigError, TrainConfig
from flowerstudio.core.foundation.events import CheckpointSaved, EpochMetrics, Log, PhaseStarted, Progress, RunStarted
from flowerstudio.core.foundation.vocab import (
    CheckpointKind, ExportFormat, LogLevel, Optimizer, Phase, Split, TrainMode, is_device,
)

# A config.json as written before the enums existed (plain words): it must still load, and a config
# saved now must be byte for byte what the plain-string version wrote.
OLD_CONFIG = {"data_dir": "/photos", "train_mode": "last_stages", "optimizer": "sgd", "device": "cuda:1"}


def test_words_parse_and_print_as_plain_strings():
    assert TrainMode("frozen") is TrainMode.FROZEN and TrainMode.FROZEN == "frozen"
    assert f"{TrainMode.LAST_STAGES}" == str(TrainMode.LAST_STAGES) == "last_stages"
    assert f"{Phase.LR_FIND:>9}" == "  lr_find"
    assert json.dumps({"stage": TrainMode.ALL}) == '{"stage": "all"}'
    buf = io.StringIO()
    csv.writer(buf).writerow([Split.VAL, LogLevel.WARNING])
    assert buf.getvalue().strip() == "val,warning"
    assert {"frozen": 1}[TrainMode.FROZEN] == 1  # same hash as the word: old string-keyed tables work
    with pytest.raises(ValueError):
        TrainMode("half")


def test_old_config_loads_and_saves_the_same_bytes(tmp_path):
    path = tmp_path / "config.json"
    path.write_text(json.dumps(OLD_CONFIG))
    cfg = TrainConfig.load(path)
    assert cfg.train_mode is TrainMode.LAST_STAGES and cfg.optimizer is Optimizer.SGD and cfg.device == "cuda:1"
    cfg.save(path)
    plain = {**cfg.to_dict(), "train_mode": "last_stages", "optimizer": "sgd"}
    assert path.read_bytes() == json.dumps(plain, indent=2).encode()


def test_config_words_are_enums_however_they_are_set():
    assert TrainConfig().train_mode is TrainMode.FROZEN
    assert TrainConfig(train_mode="all").train_mode is TrainMode.ALL
    cfg = TrainConfig()
    cfg.optimizer = "adamw"  # as a form might set it
    assert cfg.validate().optimizer is Optimizer.ADAMW
    with pytest.raises(ConfigError, match="optimizer.*adam, adamw, sgd"):
        TrainConfig.from_dict({"optimizer": "rmsprop"})
    with pytest.raises(ConfigError, match="train_mode"):
        TrainConfig.from_dict({"train_mode": 3})
    with pytest.raises(ConfigError, match="augment"):
        TrainConfig.from_dict({"augment": [1]})


@pytest.mark.parametrize("text,ok", [("auto", True), ("cpu", True), ("cuda", True), ("cuda:0", True),
                                     ("cuda:12", True), ("cuda:", False), ("cuda:x", False), ("tpu", False)])
def test_device_words(text, ok):
    assert is_device(text) is ok
    if not ok:
        with pytest.raises(ConfigError, match="device"):
            TrainConfig(device=text).validate()


def test_events_hold_enums_even_when_given_plain_words():
    assert PhaseStarted("scan", 3).phase is Phase.SCAN
    assert PhaseStarted("train", 3, 1, "all").stage is TrainMode.ALL
    assert PhaseStarted("predict", 3).stage is None
    assert Progress("extract", 1, 3).phase is Phase.EXTRACT
    assert Log("x").level is LogLevel.INFO and Log("x", "warning").level is LogLevel.WARNING
    assert RunStarted("/r", "frozen").stage is TrainMode.FROZEN
    assert CheckpointSaved("/r/best.safetensors", "best", 1, 0.5).kind is CheckpointKind.BEST
    m = EpochMetrics(1, "last_stages", 1.0, 0.5, 1.0, 0.5, 1e-3, 1.0)
    assert m.stage is TrainMode.LAST_STAGES
    with pytest.raises(ValueError):
        PhaseStarted("sleep", 1)


def test_export_formats():
    assert [(f.value, f.suffix) for f in ExportFormat] == [("onnx", ".onnx"), ("torchscript", ".torchscript.pt")]
    assert all(f.title.startswith(("ONNX", "TorchScript")) for f in ExportFormat)


def test_cli_rejects_unknown_words(capsys):
    for argv in (["evaluate", "best", "data", "--split", "half"], ["export", "best", "--format", "tflite"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "invalid" in capsys.readouterr().err
