"""Grad-CAM: which part of a photo made the model choose a class.

The heat map is the last convolutional stage's activations (``BackboneSpec.cam_layer``)
weighted by the spatially averaged gradient of the class score, kept where positive
and scaled to [0, 1] at the input's size (Selvaraju et al., 2017).

heatmap_image() keeps the last models it used loaded: a viewer asks for one overlay per
photo shown, and loading a model takes longer than the Grad-CAM itself.

On the CPU it runs with one intra-op thread (runtime/threads.py): its ops are small, and with two
threads each waits at a thread barrier. On a busy two-core machine (training beside it, thumbnails
decoding) that is 0.155 s a photo against 0.241 s, the worst 0.29 s against 1.87 s; on an idle one
it costs 5 ms (0.021 s against 0.016 s). benchmarks/gradcam.py, benchmarks/README.md.
"""
from __future__ import annotations

import os
import threading
from collections import OrderedDict
from typing import Optional

import numpy as np
import torch
from PIL import Image
from torch.nn import functional as F

from flowerstudio.core.model.model_file import ModelInfo, load_model
from flowerstudio.core.model.classifier import Classifier, get_spec
from flowerstudio.core.runtime.threads import one_thread_on_cpu


def gradcam(
    model: Classifier, image_tensor: torch.Tensor, target: Optional[int] = None, layer: Optional[str] = None
) -> np.ndarray:
    """Heat map [H, W] in [0, 1] for ``target`` (None: the predicted class) of one normalised image [3, H, W].

    ``layer`` names a module inside ``model.backbone``; default: the backbone's cam_layer.
    Works on frozen models: the model's requires_grad flags, mode and hooks are left as they were.
    """
    if image_tensor.dim() != 3:
        raise ValueError(f"expected one image [3, H, W], got shape {tuple(image_tensor.shape)}")
    module = model.backbone.get_submodule(layer or get_spec(model.backbone_name).cam_layer)
    device = next(model.parameters()).device
    saved: list[torch.Tensor] = []
    handle = module.register_forward_hook(lambda _m, _i, out: _differentiable_from_here(out, saved))
    was_training = model.training
    model.eval()
    try:
        # inference_mode(False): the GUI may call this from inside an inference context. The layers
        # before the hooked one run without a graph; the hook switches gradients on for the rest.
        with one_thread_on_cpu(device), torch.inference_mode(False), torch.no_grad():
            x = image_tensor.detach().clone().to(device, torch.float32).unsqueeze(0)
            logits = model(x)
            cls = int(logits.argmax(1).item()) if target is None else int(target)
            if not 0 <= cls < logits.shape[1]:
                raise ValueError(f"target {cls} is not a class index (model has {logits.shape[1]} classes)")
            act = saved[-1]
            # autograd.grad, not backward(): parameters' .grad stay untouched.
            (grad,) = torch.autograd.grad(logits[0, cls], act)
    finally:
        handle.remove()
        model.train(was_training)
    with torch.no_grad():
        weights = grad.mean(dim=(2, 3), keepdim=True)
        cam = F.relu((weights * act.detach()).sum(dim=1, keepdim=True))
        cam = F.interpolate(cam, size=image_tensor.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
        lo, hi = cam.min(), cam.max()
        cam = (cam - lo) / (hi - lo) if hi - lo > 1e-12 else torch.zeros_like(cam)
    return np.nan_to_num(cam.float().cpu().numpy()).clip(0.0, 1.0)


def _differentiable_from_here(out: torch.Tensor, saved: list[torch.Tensor]) -> torch.Tensor:
    """The hooked layer's output as a leaf that requires grad, with gradients on for the layers after
    it (the caller's no_grad block restores the mode): the backward pass needs nothing before it, and
    the parameters' requires_grad flags stay as they were (a frozen backbone or not)."""
    torch.set_grad_enabled(True)
    act = out.detach().requires_grad_(True)
    saved.append(act)
    return act


def colormap(heat: np.ndarray) -> np.ndarray:
    """A jet-like colour map: [H, W] in [0, 1] -> uint8 [H, W, 3] (blue = cold, red = hot)."""
    x = np.clip(heat, 0.0, 1.0)[..., None]
    # Three shifted triangles give jet's blue -> cyan -> yellow -> red ramp.
    rgb = np.clip(1.5 - np.abs(4.0 * x - np.array([3.0, 2.0, 1.0])), 0.0, 1.0)
    return (rgb * 255.0 + 0.5).astype(np.uint8)


def overlay(image: Image.Image, heat: np.ndarray, alpha: float = 0.45) -> Image.Image:
    """``image`` with the coloured heat map blended over it (heat is resized to the image)."""
    image = image.convert("RGB")
    if heat.shape != (image.height, image.width):
        heat = np.asarray(Image.fromarray(heat.astype(np.float32)).resize(image.size, Image.Resampling.BILINEAR))
    colour = colormap(heat).astype(np.float32)
    base = np.asarray(image, dtype=np.float32)
    out = (1.0 - alpha) * base + alpha * colour
    return Image.fromarray(np.clip(out + 0.5, 0, 255).astype(np.uint8))


def gradcam_for_path(
    model: Classifier, info, path: str | os.PathLike, target: Optional[int] = None
) -> tuple[Image.Image, np.ndarray]:
    """(the photo as the model sees it, resized and cropped; its heat map), for a photo file.

    ``info`` is the ModelInfo from load_model. One call, so a GUI can run it in a worker thread.
    """
    from flowerstudio.core.photos.imageio import load_image
    from flowerstudio.core.runtime.transforms import denormalize, eval_transform

    # Decoded and transformed exactly as the Predictor does it: the model's own preprocessing.
    pre = info.preprocessing
    photo = load_image(path, min_side=pre.resize)
    x = eval_transform(pre)(photo)
    heat = gradcam(model, x, target)
    pixels = (denormalize(x, info.mean, info.std) * 255.0 + 0.5).to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(pixels), heat


MAX_MODELS = 2  # the evaluated model and the prediction page's, at most
_cache_lock = threading.Lock()
# (path, mtime) -> (model, info, lock); the lock because Grad-CAM hooks the shared model.
_models: OrderedDict[tuple[str, float], tuple[Classifier, ModelInfo, threading.Lock]] = OrderedDict()


def _cached_model(model_path: str) -> tuple[Classifier, ModelInfo, threading.Lock]:
    """(model, info, lock) for a model file, loaded on the CPU the first time; a rewritten file reloads."""
    key = (os.path.abspath(model_path), os.path.getmtime(model_path))
    with _cache_lock:
        if key in _models:
            _models.move_to_end(key)
            return _models[key]
    model, info = load_model(model_path, "cpu")  # outside the lock: other models stay usable meanwhile
    with _cache_lock:
        entry = _models.setdefault(key, (model, info, threading.Lock()))
        _models.move_to_end(key)
        while len(_models) > MAX_MODELS:
            _models.popitem(last=False)
        return entry


def heatmap_image(model_path: str, image_path: str, target: Optional[int] = None,
                  alpha: float = 0.45) -> Image.Image:
    """The photo as the model sees it, with the Grad-CAM heat of ``target`` (None: the predicted
    class) blended over it (red = looked at most). Safe to call from several threads."""
    model, info, lock = _cached_model(model_path)
    with lock:
        photo, heat = gradcam_for_path(model, info, image_path, target)
    return overlay(photo, heat, alpha)
