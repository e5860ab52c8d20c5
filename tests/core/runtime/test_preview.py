"""The augmentation preview: the photo as the model sees it, and as training changes it."""
import numpy as np
from imagefactory import draw_image

from flowerstudio.core.foundation.config import AugmentConfig
from flowerstudio.core.runtime.preview import augment_views


def test_views_have_the_input_size_and_switches_turn_augmentation_off(tmp_path):
    path = tmp_path / "p.jpg"
    draw_image(1, 3, (120, 90)).save(path)
    plain, views = augment_views(str(path), AugmentConfig(), 64, "efficientnet_lite0", 3)
    assert plain.size == (64, 64) and [v.size for v in views] == [(64, 64)] * 3
    off = AugmentConfig(rotation=False, hflip=False, vflip=False, color_jitter=False, grayscale=False)
    plain, views = augment_views(str(path), off, 64, "efficientnet_lite0", 2)
    # Nothing random left: the validation view (its one-step resize agrees with resize-then-crop to 1/255).
    assert all(np.abs(np.asarray(v, np.int16) - np.asarray(plain, np.int16)).max() <= 2 for v in views)
