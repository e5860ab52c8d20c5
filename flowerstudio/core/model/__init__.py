"""The model: what a network is, how it is stored and how its confidences are calibrated.

    backbones      the catalogue of pretrained networks (plain data)
    weights        getting their ImageNet weights (offline package, download, local file)
    classifier     Classifier = backbone + new last layer; freezing; devices
    preprocessing  Preprocessing: how a photo becomes the input, decided once per run, stored in its model files
    model_file     the model file format: one .safetensors with checked metadata (metadata.py)
    calibration    temperature scaling and the calibration error
    fusion, static_padding   faster, equivalent forms of a network for inference and export
"""
from flowerstudio.core.foundation.lazy import lazy_exports

_EXPORTS = {
    "Preprocessing": "preprocessing",
    "ModelInfo": "model_file",
    "CheckpointError": "model_file",
    "read_model_info": "model_file",
    "load_model": "model_file",
    "build_classifier": "classifier",
    "get_spec": "backbones",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
