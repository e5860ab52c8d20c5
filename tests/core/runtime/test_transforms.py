import pytest
import torch
from imagefactory import draw_image
from torchvision.transforms import v2

from flowerstudio.core.foundation.config import AugmentConfig
from flowerstudio.core.model.preprocessing import Preprocessing
from flowerstudio.core.runtime.transforms import (NormalizedTensor, ResizeCenterCrop, denormalize, eval_transform,
                                                  train_transform)

MEAN, STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)


def test_default_training_pipeline_is_the_tutorials():
    tf = train_transform(Preprocessing.of(64, MEAN, STD), AugmentConfig())
    kinds = [type(t).__name__ for t in tf.transforms]
    assert kinds == ["Resize", "RandomRotation", "CenterCrop", "RandomHorizontalFlip", "RandomVerticalFlip",
                     "ColorJitter", "RandomGrayscale", "NormalizedTensor"]
    rot = tf.transforms[1]
    assert rot.degrees == [-45.0, 45.0]
    jitter = tf.transforms[5]
    assert jitter.brightness == (0.8, 1.2) and jitter.hue == (-0.1, 0.1)
    x = tf(draw_image(0, 0, (80, 60)))
    assert x.shape == (3, 64, 64) and x.dtype == torch.float32


def test_switches_turn_steps_off_and_validation_never_augments():
    off = AugmentConfig(rotation=False, hflip=False, vflip=False, color_jitter=False, grayscale=False)
    img = draw_image(1, 3, (90, 70))
    train = train_transform(Preprocessing.of(64, MEAN, STD), off)
    evaluation = eval_transform(Preprocessing.of(64, MEAN, STD))
    # The same pixels, to within one step of 255 (validation resizes only what its crop keeps).
    assert (train(img) - evaluation(img)).abs().max() <= (1 / 255) / STD[0] + 1e-6
    assert torch.equal(evaluation(img), evaluation(img))
    random_crop = train_transform(Preprocessing.of(64, MEAN, STD), AugmentConfig(random_crop=True))
    assert any(isinstance(t, v2.RandomCrop) for t in random_crop.transforms)


def test_normalisation_uses_the_backbones_statistics_and_round_trips():
    img = draw_image(2, 0, (64, 64))
    x = eval_transform(Preprocessing.of(64, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))(img)
    back = denormalize(x, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    plain = eval_transform(Preprocessing.of(64, (0.0,) * 3, (1.0,) * 3))(img)
    assert torch.allclose(back, plain, atol=1e-5)


@pytest.mark.parametrize("size", [(533, 400), (400, 533), (300, 300), (641, 479), (97, 31), (31, 97), (4000, 3000)])
def test_resize_center_crop_gives_the_two_steps_pixels(size):
    """One resampling of the cropped part only, the same as Resize then CenterCrop to within 1/255 —
    portrait, landscape, square, odd sizes, upscaled tiny photos and a camera-sized one."""
    import numpy as np

    img = draw_image(2, 5, size)
    fast = np.asarray(ResizeCenterCrop(256, 224)(img), dtype=int)
    steps = np.asarray(v2.CenterCrop(224)(v2.Resize(256, antialias=True)(img)), dtype=int)
    assert fast.shape == steps.shape == (224, 224, 3)
    assert np.abs(fast - steps).max() <= 1
    assert (fast != steps).mean() < 0.05  # rounding, not a shifted or scaled picture
    tensor = v2.PILToTensor()(img)  # tensors take the two steps
    assert torch.equal(ResizeCenterCrop(256, 224)(tensor), v2.CenterCrop(224)(v2.Resize(256, antialias=True)(tensor)))


def test_normalized_tensor_gives_the_three_v2_steps_numbers():
    """One multiply-add per pixel instead of PILToTensor, ToDtype and Normalize: the same input for
    the network to within 1e-6, from a PIL image, a uint8 tensor or a float tensor in [0, 1]."""
    img = draw_image(3, 1, (90, 70))
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet's: every channel different
    steps = v2.Compose([v2.PILToTensor(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(list(mean), list(std))])
    fused = NormalizedTensor(mean, std)
    ref = steps(img)
    assert ref.shape == (3, 70, 90) and ref.min() < 0 < ref.max()  # really normalised: not the [0, 1] pixels
    assert torch.allclose(fused(img), ref, atol=1e-6, rtol=0)
    assert fused(img).is_contiguous() and fused(img).dtype == torch.float32  # what the engines take
    assert torch.allclose(fused(img.convert("RGBA")), ref, atol=1e-6, rtol=0)  # three channels, whatever the mode
    as_uint8 = v2.PILToTensor()(img)
    assert torch.allclose(fused(as_uint8), ref, atol=1e-6, rtol=0)
    assert torch.allclose(fused(as_uint8.float() / 255), ref, atol=1e-5, rtol=0)
    assert torch.equal(as_uint8, v2.PILToTensor()(img))  # the input tensor is left as it was
