"""A photo as the model sees it, and as training augments it: what the augmentation preview shows."""
from __future__ import annotations

from PIL import Image

from flowerstudio.core.foundation.config import AugmentConfig, TrainConfig
from flowerstudio.core.model.preprocessing import Preprocessing
from flowerstudio.core.photos.imageio import load_image
from flowerstudio.core.runtime.transforms import denormalize, eval_transform, train_transform


def augment_views(path: str, augment: AugmentConfig, input_size: int, backbone: str,
                  n: int) -> tuple[Image.Image, list[Image.Image]]:
    """(the validation view, ``n`` random training views) of one photo, as the network's input pixels:
    the preprocessing a run with these settings would use."""
    pre = Preprocessing.for_run(TrainConfig(backbone=backbone, input_size=input_size, augment=augment))
    img = load_image(path)
    plain, train = eval_transform(pre), train_transform(pre, augment)

    def to_pil(tensor) -> Image.Image:
        arr = (denormalize(tensor, pre.mean, pre.std) * 255).round().byte().permute(1, 2, 0).contiguous()
        return Image.fromarray(arr.numpy())

    return to_pil(plain(img)), [to_pil(train(img)) for _ in range(n)]
