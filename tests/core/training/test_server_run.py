import shlex

from flowerstudio.cli import main
from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.training.server_run import export_for_server


def test_export_for_server_drops_local_paths_and_the_command_parses(tmp_path, tiny_data):
    cfg = TrainConfig(data_dir=str(tiny_data), output_dir="/home/me/runs", epochs=7, device="cpu",
                      resume_from="/home/me/runs/x/best.safetensors", train_mode="all", lr=1e-4)
    config_path, command = export_for_server(cfg, tmp_path, nproc=4)
    saved = TrainConfig.load(config_path)
    assert saved.epochs == 7 and saved.train_mode == "all" and saved.lr == 1e-4
    assert saved.data_dir == "" and saved.output_dir == "" and saved.resume_from is None and saved.device == "auto"
    words = shlex.split(command)
    assert words[:3] == ["torchrun", "--standalone", "--nproc_per_node=4"]
    assert words[3:6] == ["-m", "flowerstudio", "train"] and words[-2:] == ["--config", "server-config.json"]
    assert "--rdzv_endpoint=HOST:29400" in (tmp_path / "RUN-ON-SERVER.txt").read_text()


def test_the_server_config_runs_with_the_cli(tmp_path, tiny_data):
    cfg = TrainConfig(input_size=64, epochs=1, batch_size=8, cache_views=1)
    config_path, _ = export_for_server(cfg, tmp_path)
    assert main(["train", str(tiny_data), "--config", str(config_path), "--output", str(tmp_path / "runs")]) == 0
