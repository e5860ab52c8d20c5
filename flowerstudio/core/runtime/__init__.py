"""Running networks over photos fast: transforms, loaders, the inference engine and the feature cache.

    transforms     the training and evaluation transforms, built from a Preprocessing
    loader         datasets and loaders whose bad photos are skipped and reported; decoding in threads
    augment        a stage's batches augmented by threads, with one thread's random numbers
    kept           decoded photos kept between a fine-tuning stage's epochs, within a memory budget
    inference      InferenceNet: ONNX Runtime on CPU (PyTorch elsewhere), its graph cached
    featurecache   backbone features computed once per photo (cache_store.py: segments with checksums)
    distributed    torchrun: the process group and the few collectives the engine needs
    preview        the augmentation preview's views
    threads        one intra-op thread for small CPU work (a head's step, Grad-CAM)
    torch_pair     whether torch and torchvision belong together, said in words when not
"""
from flowerstudio.core.foundation.lazy import lazy_exports

_EXPORTS = {
    "eval_transform": "transforms",
    "train_transform": "transforms",
    "InferenceNet": "inference",
    "FeatureCache": "featurecache",
    "cache_for": "featurecache",
    "Distributed": "distributed",
}
__all__ = list(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
