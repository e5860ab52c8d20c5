"""Using a model: labelling photos, checking it on labelled photos, exporting it, explaining a prediction.

    predict         Predictor: a model file over any number of photos     cached_predict  from cached features
    evaluate        which photos to check on (the run's split) and the report (eval_report.py)
    export          ONNX / TorchScript with a sidecar, checked against PyTorch
    gradcam         where the model looked      shards  prediction under torchrun
"""
from flowerstudio.core.foundation.lazy import lazy_exports

_EXPORTS = {
    "Predictor": "predict",
    "evaluate": "evaluate",
    "EvalReport": "eval_report",
    "export_model": "export",
    "heatmap_image": "gradcam",
    "fast_predictor": "cached_predict",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
