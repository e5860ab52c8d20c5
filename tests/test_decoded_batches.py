"""Feature extraction's decoding threads give the batches a DataLoader gives, bad photos included."""
import torch
from imagefactory import make_dataset, write_broken_files

from flowerstudio.core.loader import ImageDataset, decoded_batches, make_loader
from flowerstudio.core.predict import list_images
from flowerstudio.core.transforms import build_eval_transform


def test_threads_give_the_loaders_batches(tmp_path):
    data = make_dataset(tmp_path, classes=("a", "b"), per_class=5, layout="flat")
    write_broken_files(data / "a")
    paths = list_images([data])
    dataset = ImageDataset(paths, list(range(len(paths))), build_eval_transform(32, [0.5] * 3, [0.5] * 3))
    threaded, plain = list(decoded_batches(dataset, 4, threads=3)), list(make_loader(dataset, 4, shuffle=False))
    assert len(threaded) == len(plain) == 4
    for t, p in zip(threaded, plain):
        assert t.bad == p.bad and torch.equal(t.indices, p.indices) and torch.equal(t.labels, p.labels)
        assert (t.images is None and p.images is None) or torch.equal(t.images, p.images)
    assert sum(len(b.bad) for b in threaded) == 3
