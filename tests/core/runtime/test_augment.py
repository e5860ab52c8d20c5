"""Threads augment a stage's photos with the random numbers one thread draws: the batches are those of the
plain DataLoader from the same seed, bit for bit, for every switch of the augmentation recipe."""
import dataclasses

import pytest
import torch
from imagefactory import make_dataset, write_broken_files
from torch.utils.data import RandomSampler

from flowerstudio.core.foundation.config import AugmentConfig
from flowerstudio.core.labelling.predict import list_images
from flowerstudio.core.model.preprocessing import Preprocessing
from flowerstudio.core.runtime.augment import threaded_batches
from flowerstudio.core.runtime.kept import KeptPhotos
from flowerstudio.core.runtime.loader import ImageDataset, make_loader
from flowerstudio.core.runtime.transforms import eval_transform, train_transform

PRE = Preprocessing.of(32, [0.5] * 3, [0.5] * 3)
SWITCHES = ("rotation", "random_crop", "hflip", "vflip", "color_jitter", "grayscale")
RECIPES = [AugmentConfig(), AugmentConfig(random_crop=True, grayscale_p=0.5),
           AugmentConfig(**{s: False for s in SWITCHES})]


def _photos(tmp_path, broken: bool = False) -> list[str]:
    data = make_dataset(tmp_path, classes=("a", "b"), per_class=5, layout="flat", size=(50, 37))
    if broken:
        write_broken_files(data / "a")
    return list_images([data])


def _same(threaded, plain) -> None:
    assert len(threaded) == len(plain)
    for t, p in zip(threaded, plain):
        assert t.bad == p.bad and torch.equal(t.indices, p.indices) and torch.equal(t.labels, p.labels)
        assert (t.images is None and p.images is None) or torch.equal(t.images, p.images)


@pytest.mark.parametrize("recipe", RECIPES, ids=["default", "random crop", "none"])
def test_threads_give_the_plain_loaders_batches(tmp_path, recipe):
    paths = _photos(tmp_path, broken=True)
    ds = ImageDataset(paths, [i % 2 for i in range(len(paths))], train_transform(PRE, recipe), PRE.resize,
                      KeptPhotos(1 << 30))
    for epoch in range(2):  # the second from the kept photos
        order = list(RandomSampler(ds, generator=torch.Generator().manual_seed(epoch)))
        torch.manual_seed(epoch)
        plain = list(make_loader(ds, 4, shuffle=False, sampler=order))
        torch.manual_seed(epoch)
        threaded = list(threaded_batches(ds, order, 4, threads=3))
        _same(threaded, plain)
    assert sum(len(b.bad) for b in threaded) == 3  # write_broken_files' three, reported again


def test_every_switch_on_its_own_gives_the_same_batches(tmp_path):
    paths = _photos(tmp_path)
    off = {s: False for s in SWITCHES}
    for switch in SWITCHES:
        recipe = dataclasses.replace(AugmentConfig(**off), **{switch: True})
        ds = ImageDataset(paths, [0] * len(paths), train_transform(PRE, recipe), PRE.resize)
        torch.manual_seed(1)
        plain = list(make_loader(ds, 3, shuffle=False))
        torch.manual_seed(1)
        _same(list(threaded_batches(ds, range(len(ds)), 3, threads=2)), plain)


def test_validation_photos_are_the_evaluation_transforms(tmp_path):
    paths = _photos(tmp_path)
    ds = ImageDataset(paths, [0] * len(paths), eval_transform(PRE), PRE.resize, KeptPhotos(1 << 30))
    _same(list(threaded_batches(ds, range(len(ds)), 4, threads=2)), list(make_loader(ds, 4, shuffle=False)))
