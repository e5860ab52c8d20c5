"""Photos kept decoded between epochs: each photo is read from disk once per stage, the network sees the
same pixels from the same random numbers, memory stays within its budget, broken photos are retried."""
import torch
from imagefactory import make_dataset, write_broken_files

import flowerstudio.core.runtime.loader as loader
from flowerstudio.core.foundation.config import AugmentConfig
from flowerstudio.core.labelling.predict import list_images
from flowerstudio.core.model.preprocessing import Preprocessing
from flowerstudio.core.runtime.kept import KeptPhotos, default_budget
from flowerstudio.core.runtime.transforms import eval_transform, split_fixed, train_transform

PRE = Preprocessing.of(32, [0.5] * 3, [0.5] * 3)


def _counting_loads(monkeypatch) -> list:
    reads = []
    real = loader.load_image

    def load(path, **kw):
        reads.append(path)
        return real(path, **kw)

    monkeypatch.setattr(loader, "load_image", load)
    return reads


def _epochs(dataset, n: int, seed: int = 7) -> list:
    """Every item of ``n`` epochs, the random steps drawn from one seeded generator."""
    torch.manual_seed(seed)
    return [dataset[i] for _ in range(n) for i in range(len(dataset))]


def test_kept_photos_are_read_once_and_give_the_same_tensors(tmp_path, monkeypatch):
    data = make_dataset(tmp_path, classes=("a", "b"), per_class=4, layout="flat")
    paths = list_images([data])
    tf = train_transform(PRE, AugmentConfig())
    plain = _epochs(loader.ImageDataset(paths, [0] * len(paths), tf, PRE.resize), 3)
    reads = _counting_loads(monkeypatch)
    kept = _epochs(loader.ImageDataset(paths, [0] * len(paths), tf, PRE.resize, KeptPhotos(1 << 30)), 3)
    assert sorted(reads) == sorted(paths)  # once each, over three epochs
    assert len(kept) == len(plain) == 3 * len(paths)
    for k, p in zip(kept, plain):
        assert torch.equal(k[0], p[0]) and k[1:] == p[1:]
    assert not torch.equal(kept[0][0], kept[len(paths)][0])  # the augmentation still differs per epoch


def test_the_budget_bounds_what_is_kept(tmp_path, monkeypatch):
    data = make_dataset(tmp_path, classes=("a",), per_class=6, layout="flat")
    paths = list_images([data])
    one = PRE.input_size ** 2 * 3  # evaluation keeps the centre crop: one photo's bytes
    keep = KeptPhotos(2 * one)
    reads = _counting_loads(monkeypatch)
    _epochs(loader.ImageDataset(paths, [0] * len(paths), eval_transform(PRE), PRE.resize, keep), 2)
    assert len(keep) == 2 and keep.used_bytes <= keep.budget_bytes
    assert len(reads) == 2 + 2 * (len(paths) - 2)  # the others are decoded every epoch


def test_broken_photos_are_reported_every_epoch_and_never_kept(tmp_path):
    data = make_dataset(tmp_path, classes=("a",), per_class=2, layout="flat")
    write_broken_files(data / "a")
    paths = list_images([data])
    keep = KeptPhotos(1 << 30)
    items = _epochs(loader.ImageDataset(paths, [0] * len(paths), eval_transform(PRE), PRE.resize, keep), 2)
    bad = [it for it in items if it[3] is not None]
    assert len(bad) == 2 * 3 and len(keep) == 2  # write_broken_files writes three


def test_the_fixed_steps_then_the_rest_are_the_transform():
    from PIL import Image

    photo = Image.new("RGB", (80, 60), (200, 30, 90))
    for tf in (train_transform(PRE, AugmentConfig()), eval_transform(PRE)):
        fixed, rest = split_fixed(tf)
        assert len(fixed.transforms) == 1  # the resize; the float tensor is made per epoch
        torch.manual_seed(3)
        whole = tf(photo)
        torch.manual_seed(3)
        assert torch.equal(rest(fixed(photo)), whole)


def test_the_default_budget_is_a_bounded_share_of_memory():
    assert (1 << 28) <= default_budget() <= (4 << 30)
