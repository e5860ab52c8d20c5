import json

import pytest

from flowerstudio.core.foundation.config import HEAD_EPOCHS, ConfigError, TrainConfig


def test_round_trip_through_json(tmp_path):
    cfg = TrainConfig(data_dir="/photos", epochs=3, lr=0.01).validate()
    cfg.augment.rotation_degrees = 30.0
    cfg.save(tmp_path / "config.json")
    again = TrainConfig.load(tmp_path / "config.json")
    assert again == cfg


@pytest.mark.parametrize("field,value,needle", [
    ("epochs", 0, "epochs"),
    ("epochs", 2.5, "epochs.*whole number"),
    ("step_size", True, "step_size.*whole number"),
    ("train_mode", "half", "train_mode"),
    ("lr", -1.0, "lr"),
    ("device", "tpu", "device"),
    ("input_size", 8, "input_size"),
])
def test_bad_values_name_the_field(field, value, needle):
    with pytest.raises(ConfigError, match=needle):
        TrainConfig.from_dict({field: value})


def test_unknown_and_mistyped_fields_are_named(tmp_path):
    with pytest.raises(ConfigError, match="unknown config field 'epoch'"):
        TrainConfig.from_dict({"epoch": 3})
    with pytest.raises(ConfigError, match="augment.hflip_p"):
        TrainConfig.from_dict({"augment": {"hflip_p": "half"}})
    with pytest.raises(ConfigError, match="batch_size.*int"):
        TrainConfig.from_dict({"batch_size": 3.5})
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ConfigError, match="bad.json"):
        TrainConfig.load(tmp_path / "bad.json")


def test_ints_are_accepted_for_floats():
    assert TrainConfig.from_dict({"lr": 1}).lr == 1.0
    assert json.loads(json.dumps(TrainConfig().to_dict()))["augment"]["hflip"] is True


def test_augment_recipe_round_trips_through_json_and_survives_damage():
    from flowerstudio.core.foundation.config import AugmentConfig

    a = AugmentConfig(hflip=False, rotation_degrees=30.0)
    assert AugmentConfig.from_json(a.to_json()) == a
    assert AugmentConfig.from_json('{"hflip": "yes"}') == AugmentConfig()  # wrong type: the defaults
    assert AugmentConfig.from_json('{"vflip": false, "gone_field": 1}').vflip is False  # old/new versions
    assert AugmentConfig.from_json("not json") == AugmentConfig()


@pytest.mark.parametrize("given,epochs,step_size", [
    ({}, HEAD_EPOCHS, 20),  # the head alone on cached features: 30 epochs, the rate cut after 20
    ({"epochs": 12}, 12, 8),  # two-thirds of what was asked
    ({"epochs": 12, "step_size": 5}, 12, 5),  # what was asked
    ({"train_mode": "all"}, 10, 10),  # photos through the network every epoch: the tutorial's schedule
    ({"feature_cache": False}, 10, 10),
    ({"train_mode": "last_stages", "epochs": 3}, 3, 10),
])
def test_the_schedule_left_open_is_the_stages_own(given, epochs, step_size):
    cfg = TrainConfig.from_dict(given)
    assert (cfg.epochs, cfg.step_size) == (epochs, step_size)
    # A config file written with the fields left open (null) means the same.
    assert TrainConfig.from_dict({**given, **{k: None for k in ("epochs", "step_size") if k not in given}}) == cfg
