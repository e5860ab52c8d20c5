"""Grad-CAM: points at the evidence after training, and runs on every backbone."""
import numpy as np
import pytest
import torch
from PIL import Image

from flowerstudio.core.model.model_file import load_model
from flowerstudio.core.foundation.config import AugmentConfig, TrainConfig
from flowerstudio.core.labelling.gradcam import colormap, gradcam, gradcam_for_path, overlay
from flowerstudio.core.model.backbones import BACKBONES
from flowerstudio.core.model.classifier import build_classifier
from flowerstudio.core.training.trainer import train

SIZE = 128  # 4x4 cells in the last stage; at 64 px the 2x2 map is too coarse to locate a patch
# Class -> (corner, patch colour). The patch is the only thing that differs between classes.
CORNERS = {"topleft": ("tl", (255, 40, 40)), "bottomright": ("br", (40, 60, 255))}


def corner_image(corner: str, colour, seed: int) -> Image.Image:
    """Grey noise with a bright square patch in one corner."""
    rng = np.random.default_rng(seed)
    a = rng.integers(60, 140, (SIZE, SIZE, 3), dtype=np.uint8)
    s, o = SIZE // 4, SIZE // 8 + int(rng.integers(-3, 4))
    if corner == "tl":
        a[o:o + s, o:o + s] = colour
    else:
        a[SIZE - o - s:SIZE - o, SIZE - o - s:SIZE - o] = colour
    return Image.fromarray(a)


@pytest.fixture(scope="module")
def corner_model(tmp_path_factory):
    data = tmp_path_factory.mktemp("corners")
    for k, (cls, (corner, colour)) in enumerate(CORNERS.items()):
        (data / cls).mkdir()
        for i in range(20):
            corner_image(corner, colour, 1000 * k + i).save(data / cls / f"{i:02d}.png")
    # No flips or rotation: they would move the patch into the other class's corner.
    aug = AugmentConfig(rotation=False, hflip=False, vflip=False, color_jitter=False, grayscale=False)
    cfg = TrainConfig(data_dir=str(data), input_size=SIZE, epochs=5, batch_size=8, lr=3e-3, cache_views=1,
                      val_fraction=0.25, augment=aug, output_dir=str(tmp_path_factory.mktemp("runs")))
    result = train(cfg)
    assert result.best_val_acc == 1.0
    return load_model(result.best_path)


@pytest.mark.parametrize("cls", list(CORNERS))
def test_heatmap_peak_is_in_the_patch_corner(corner_model, cls, tmp_path):
    model, info = corner_model
    corner, colour = CORNERS[cls]
    for seed in (501, 502, 503):  # held out: never seen in training
        path = tmp_path / f"{seed}.png"
        corner_image(corner, colour, seed).save(path)
        seen, heat = gradcam_for_path(model, info, path)
        assert seen.size == (SIZE, SIZE) and heat.shape == (SIZE, SIZE)
        y, x = np.unravel_index(heat.argmax(), heat.shape)
        half = SIZE // 2
        in_corner = (y < half and x < half) if corner == "tl" else (y >= half and x >= half)
        assert in_corner, f"{cls}: peak at (x={x}, y={y})"


@pytest.mark.parametrize("name", list(BACKBONES))
def test_every_backbone_gives_a_map(name):
    model = build_classifier(name, 3, pretrained=False)
    model.set_trainable("frozen")
    model.train()
    flags = [p.requires_grad for p in model.parameters()]
    hooks = sum(len(m._forward_hooks) + len(m._backward_hooks) for m in model.modules())
    image = torch.randn(3, 64, 64)
    heat = gradcam(model, image, target=1)
    assert heat.shape == (64, 64) and heat.dtype == np.float32
    assert np.isfinite(heat).all() and heat.min() >= 0.0 and heat.max() <= 1.0
    # The model is left exactly as it was: flags, mode, hooks, no gradients accumulated.
    assert [p.requires_grad for p in model.parameters()] == flags
    assert model.training
    assert sum(len(m._forward_hooks) + len(m._backward_hooks) for m in model.modules()) == hooks
    assert all(p.grad is None for p in model.parameters())


def test_gradcam_inside_no_grad_and_bad_target():
    model = build_classifier("resnet18", 2, pretrained=False).eval()
    with torch.inference_mode():
        image = torch.randn(3, 64, 64)
        heat = gradcam(model, image)
    assert heat.shape == (64, 64)
    with pytest.raises(ValueError, match="target"):
        gradcam(model, torch.randn(3, 64, 64), target=5)


def test_overlay_and_colormap():
    ramp = np.linspace(0, 1, 5, dtype=np.float32)[None, :]
    colours = colormap(ramp)[0]
    assert colours[0, 2] > 100 and colours[0, 0] == 0  # cold is blue
    assert colours[-1, 0] > 100 and colours[-1, 2] == 0  # hot is red
    image = Image.new("RGB", (40, 30), (100, 100, 100))
    heat = np.zeros((8, 8), np.float32)
    heat[:, 4:] = 1.0
    out = overlay(image, heat, alpha=0.5)
    assert out.size == (40, 30) and out.mode == "RGB"
    left, right = np.asarray(out)[15, 2], np.asarray(out)[15, 37]
    assert left[2] > left[0] and right[0] > right[2]


def plain_gradcam(model, image, target):
    """The textbook recipe, slow but plain: the whole graph from an input that requires grad."""
    from torch.nn import functional as F

    from flowerstudio.core.model.classifier import get_spec

    module = model.backbone.get_submodule(get_spec(model.backbone_name).cam_layer)
    saved = []
    handle = module.register_forward_hook(lambda _m, _i, out: saved.append(out))
    try:
        with torch.enable_grad():
            logits = model(image.clone().unsqueeze(0).requires_grad_(True))
            (grad,) = torch.autograd.grad(logits[0, target], saved[-1])
    finally:
        handle.remove()
    cam = F.relu((grad.mean(dim=(2, 3), keepdim=True) * saved[-1].detach()).sum(dim=1, keepdim=True))
    cam = F.interpolate(cam, size=image.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    return ((cam - cam.min()) / (cam.max() - cam.min())).detach().numpy()


@pytest.mark.parametrize("mode", ["frozen", "all"])
def test_the_fast_path_gives_the_textbook_map_and_leaves_threads_and_grad_mode(mode):
    """Grad-CAM runs with one thread and a graph from the hooked layer on (the speed-up of issue #26):
    the heat is the textbook recipe's, for a frozen backbone and a trainable one, and the caller's
    thread count and grad mode are as they were."""
    torch.manual_seed(0)
    model = build_classifier("efficientnet_lite0", 3, pretrained=False)
    model.set_trainable(mode)
    model.eval()
    threads = torch.get_num_threads()
    for target in (0, 2):
        image = torch.randn(3, 96, 96)
        np.testing.assert_allclose(gradcam(model, image, target), plain_gradcam(model, image, target), atol=1e-5)
        assert torch.get_num_threads() == threads and torch.is_grad_enabled()
    with torch.no_grad():
        gradcam(model, torch.randn(3, 64, 64))
        assert not torch.is_grad_enabled()
    assert all(p.grad is None for p in model.parameters())
