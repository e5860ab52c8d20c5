"""Model files with crafted metadata: CheckpointError naming the file and the field; the CLI exits 2."""
import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from flowerstudio.cli import main
from flowerstudio.core.model.model_file import FORMAT, CheckpointError, load_model, read_model_info

GOOD = {"backbone": "efficientnet_lite0", "classes": ["a", "b"], "display_names": ["A", "B"], "input_size": 64,
        "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25], "best_val_acc": 0.5, "epoch": 1, "stage": "frozen",
        "config": {}, "app_version": "0", "torch_version": "2", "created": "", "format_version": 1}


def _crafted(path, info=None, format_version="1", raw=None):
    meta = {"format": FORMAT, "format_version": format_version,
            "flowerstudio": raw if raw is not None else json.dumps(info)}
    save_file({"w": np.zeros(2, dtype=np.float32)}, str(path), metadata=meta)
    return path


CASES = {
    "format_version": dict(format_version="one"),
    "flowerstudio": dict(raw="{not json"),
    "classes": dict(info={**GOOD, "classes": "ab"}),
    "display_names": dict(info={**GOOD, "display_names": [["A"], "B"]}),
    "input_size": dict(info={**GOOD, "input_size": 10 ** 9}),
    "mean": dict(info={**GOOD, "mean": [0.5, 0.5]}),
    "std": dict(info={**GOOD, "std": [0, 0, 0]}),
    "best_val_acc": dict(info={**GOOD, "best_val_acc": "high"}),
    "backbone": dict(info={**GOOD, "backbone": ["efficientnet_lite0"]}),
    "epoch": dict(info={**GOOD, "epoch": [1]}),
}


@pytest.mark.parametrize("field", list(CASES))
def test_crafted_metadata_names_the_file_and_the_field(tmp_path, field):
    path = _crafted(tmp_path / f"crafted-{field}.safetensors", **CASES[field])
    with pytest.raises(CheckpointError) as info:
        read_model_info(path)
    assert f"crafted-{field}.safetensors" in str(info.value) and f"'{field}'" in str(info.value)


def test_names_that_do_not_match_the_classes_and_an_unknown_backbone(tmp_path):
    with pytest.raises(CheckpointError, match="display_names"):
        read_model_info(_crafted(tmp_path / "m1.safetensors", {**GOOD, "display_names": ["A"]}))
    with pytest.raises(CheckpointError, match="m2.safetensors.*backbone"):
        load_model(_crafted(tmp_path / "m2.safetensors", {**GOOD, "backbone": "no-such-net"}))


def test_every_cli_command_that_loads_a_model_prints_one_line_and_exits_2(tmp_path, capsys):
    from imagefactory import make_dataset

    data = make_dataset(tmp_path / "data", classes=("a", "b"), per_class=3, layout="flat", size=(8, 8))
    bad = _crafted(tmp_path / "crafted.safetensors", {**GOOD, "input_size": "224"})
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"data_dir": str(data)}))
    (run / "best.safetensors").write_bytes(bad.read_bytes())
    (run / "last_state.pt").write_bytes(b"not a resume state")
    commands = [["predict", str(bad), str(data)], ["evaluate", str(bad), str(data)],
                ["export", str(bad), "--out", str(tmp_path / "x.onnx")],
                ["train", str(data), "--resume-from", str(bad), "--output", str(tmp_path / "runs")],
                ["resume", str(run)]]
    for argv in commands:
        capsys.readouterr()
        code = main(argv)
        err = capsys.readouterr().err.strip()
        assert code == 2, (argv, err)
        lines = [line for line in err.splitlines() if line.startswith("error:")]  # beside progress bars
        assert len(lines) == 1 and "Traceback" not in err, argv
        assert "crafted.safetensors" in lines[0] or "last_state.pt" in lines[0], err
