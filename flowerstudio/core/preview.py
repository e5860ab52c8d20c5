"""A photo as the model sees it, and as training augments it: what the augmentation preview shows."""
from __future__ import annotations

from PIL import Image

from flowerstudio.core.backbones import get_spec
from flowerstudio.core.config import AugmentConfig
from flowerstudio.core.imageio import load_image
from flowerstudio.core.transforms import build_eval_transform, build_train_transform, denormalize


def augment_views(path: str, augment: AugmentConfig, input_size: int, backbone: str,
                  n: int) -> tuple[Image.Image, list[Image.Image]]:
    """(the validation view, ``n`` random training views) of one photo, as the network's input pixels."""
    spec = get_spec(backbone)
    img = load_image(path)
    plain = build_eval_transform(input_size, spec.mean, spec.std, augment)
    train = build_train_transform(augment, input_size, spec.mean, spec.std)

    def to_pil(tensor) -> Image.Image:
        arr = (denormalize(tensor, spec.mean, spec.std) * 255).round().byte().permute(1, 2, 0).contiguous()
        return Image.fromarray(arr.numpy())

    return to_pil(plain(img)), [to_pil(train(img)) for _ in range(n)]
