"""Move a training job to a GPU server: a config without this computer's paths, and the command."""
from __future__ import annotations

import shlex
from pathlib import Path
from typing import Optional

from flowerstudio.core.foundation.atomic import atomic_write_bytes
from flowerstudio.core.foundation.config import TrainConfig

PLACEHOLDER_DATA = "/path/to/dataset"


def server_config(cfg: TrainConfig) -> TrainConfig:
    """The same training, minus what only makes sense here (paths, device, a local resume file)."""
    data = cfg.to_dict()
    data.update(data_dir="", output_dir="", device="auto", names_file=None, weights=None, resume_from=None)
    return TrainConfig.from_dict(data)


def torchrun_command(config_file: str, data_dir: str = PLACEHOLDER_DATA, nproc: int = 1, nnodes: int = 1,
                     endpoint: str = "HOST:29400") -> str:
    """The command line that runs the config on ``nproc`` GPUs per machine, on ``nnodes`` machines."""
    if nnodes > 1:
        launch = ["torchrun", f"--nnodes={nnodes}", f"--nproc_per_node={nproc}", "--rdzv_backend=c10d",
                  f"--rdzv_endpoint={endpoint}", "--rdzv_id=flowerstudio"]
    else:
        launch = ["torchrun", "--standalone", f"--nproc_per_node={nproc}"]
    return shlex.join(launch + ["-m", "flowerstudio", "train", data_dir, "--config", config_file])


def export_for_server(cfg: TrainConfig, out_dir: str | Path, nproc: int = 1,
                      fine_tune: Optional[TrainConfig] = None) -> tuple[Path, str]:
    """Write ``server-config.json`` and ``RUN-ON-SERVER.txt`` (the commands) into ``out_dir``; with
    ``fine_tune``, also ``server-finetune-config.json`` and the second command, which continues from the
    first one's best model. Returns the first config's path and the commands."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    config_path = out / "server-config.json"
    server_config(cfg).save(config_path)
    single = torchrun_command(config_path.name, nproc=nproc)
    multi = torchrun_command(config_path.name, nproc=nproc, nnodes=2)
    steps = f"  {single}\n"
    if fine_tune is not None:
        tune_path = out / "server-finetune-config.json"
        server_config(fine_tune).save(tune_path)
        tune = torchrun_command(tune_path.name, nproc=nproc) + " --resume-from best"
        steps += f"\nthen, to fine-tune from the best model of that run:\n\n  {tune}\n"
        single += "\n" + tune
    text = ("Copy this folder and your dataset to the server, install Flower Studio there\n"
            "(pip install <this repository>), then run from this folder:\n\n"
            f"{steps}\n"
            "On several machines, run on each of them (HOST = the first machine's address):\n\n"
            f"  {multi}\n\n"
            "The model appears in the run folder as best.safetensors; open it in the Predict page.\n")
    atomic_write_bytes(out / "RUN-ON-SERVER.txt", text.encode("utf-8"))
    return config_path, single
