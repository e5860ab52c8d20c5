"""Model files for tests (imported as ``from modelfiles import save_model``)."""
from flowerstudio.core.model.model_file import ModelInfo, save_weights


def save_model(path, model, info: ModelInfo) -> None:
    """A model's weights and ``info`` as a model file, as the trainer writes one."""
    save_weights(path, model.state_dict(), info)


def read_sidecar(path) -> dict:
    """The sidecar of an exported file (``<file>.json``)."""
    import json
    from pathlib import Path

    return json.loads(Path(str(path) + ".json").read_text(encoding="utf-8"))
