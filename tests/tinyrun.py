"""A training config small enough for tests (imported as ``from tinyrun import tiny_config``)."""
from flowerstudio.core.foundation.config import TrainConfig


def tiny_config(data, out, **kw) -> TrainConfig:
    """64 px, 2 epochs, batch 8, two cache views; ``kw`` overrides any field."""
    base = dict(data_dir=str(data), input_size=64, epochs=2, batch_size=8, lr=3e-3, output_dir=str(out),
                cache_views=2)
    base.update(kw)
    return TrainConfig(**base)


def run_folders(root):
    """The run folders in a runs folder (not the app's marker file beside them), oldest name first."""
    from pathlib import Path

    return sorted(p for p in Path(root).iterdir() if p.is_dir())
