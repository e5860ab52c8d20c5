"""Feature extraction's decoding threads give the batches a DataLoader gives, bad photos included."""
import torch
from imagefactory import make_dataset, write_broken_files

from flowerstudio.core.runtime.loader import ImageDataset, decoded_batches, make_loader
from flowerstudio.core.labelling.predict import list_images
from flowerstudio.core.model.preprocessing import Preprocessing, resize_for
from flowerstudio.core.runtime.transforms import eval_transform


def test_threads_give_the_loaders_batches(tmp_path):
    data = make_dataset(tmp_path, classes=("a", "b"), per_class=5, layout="flat")
    write_broken_files(data / "a")
    paths = list_images([data])
    dataset = ImageDataset(paths, list(range(len(paths))), eval_transform(Preprocessing.of(32, [0.5] * 3, [0.5] * 3)))
    threaded, plain = list(decoded_batches(dataset, 4, threads=3)), list(make_loader(dataset, 4, shuffle=False))
    assert len(threaded) == len(plain) == 4
    for t, p in zip(threaded, plain):
        assert t.bad == p.bad and torch.equal(t.indices, p.indices) and torch.equal(t.labels, p.labels)
        assert (t.images is None and p.images is None) or torch.equal(t.images, p.images)
    assert sum(len(b.bad) for b in threaded) == 3


def test_on_the_cpu_decoding_and_the_network_take_turns(tmp_path):
    """On the CPU no photo of the next batch is decoded while the caller runs the current one (they would
    share the cores); on a GPU the next batches are decoded meanwhile. Both give the loader's batches."""
    import threading

    from flowerstudio.core.runtime.loader import decoding_plan

    data = make_dataset(tmp_path, classes=("a", "b"), per_class=8, layout="flat")
    paths = list_images([data])
    started: list[int] = []
    lock = threading.Lock()
    second_batch = threading.Event()

    class Watched(ImageDataset):
        def __getitem__(self, i):
            with lock:
                started.append(i)
            if i == 4:
                second_batch.set()
            return super().__getitem__(i)

    dataset = Watched(paths, list(range(len(paths))), eval_transform(Preprocessing.of(32, [0.5] * 3, [0.5] * 3)))
    plain = list(make_loader(dataset, 4, shuffle=False))
    threads, ahead = decoding_plan(torch.device("cpu"))
    assert threads == torch.get_num_threads() and not ahead
    assert decoding_plan(torch.device("cuda", 0))[1]
    for ahead in (False, True):
        started.clear()
        second_batch.clear()
        batches = decoded_batches(dataset, 4, threads=2, ahead=ahead)
        for n, (batch, expected) in enumerate(zip(batches, plain), 1):
            assert torch.equal(batch.images, expected.images) and torch.equal(batch.indices, expected.indices)
            with lock:
                beyond = [i for i in started if i >= 4 * n]
            if not ahead:
                assert beyond == []  # while the caller holds batch n, nothing after it is decoded
            elif n == 1:
                assert second_batch.wait(timeout=30)  # while the caller holds batch 1, batch 2 is decoded
        assert n == 4
