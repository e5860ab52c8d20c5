"""The feature cache on disk: segments that keep what was written, checksums that keep damage out, writers
that never lose each other's rows, a size cap, Clear cache, device/dtype in the key, and a cache that is
optional: a disk that refuses it costs a warning, never the run."""
import errno
import os
import threading

import pytest
import torch

from flowerstudio.core.foundation.events import Log
from flowerstudio.core.runtime import cache_store, featurecache
from flowerstudio.core.runtime.cache_store import SegmentStore
from flowerstudio.core.runtime.featurecache import FeatureCache

ROW = 256  # floats per feature row: 512 bytes in float16


def _row(seed):
    return torch.full((ROW,), float(seed), dtype=torch.float16)


def _store(root, key="k", warnings=None):
    folder = root / key / "v"
    folder.mkdir(parents=True, exist_ok=True)
    return SegmentStore(folder, key, (warnings if warnings is not None else []).append)


def test_two_writers_add_segments_and_neither_loses_rows(tmp_path):
    first, second = _store(tmp_path), _store(tmp_path)
    first.add({"photo1": _row(1)})
    second.add({"photo2": _row(2)})  # a run that read the entry before the first one wrote
    rows = _store(tmp_path).read()
    assert set(rows) == {"photo1", "photo2"} and torch.equal(rows["photo2"], _row(2))


def test_merging_while_another_writer_adds_loses_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(cache_store, "MERGE_AFTER", 2)
    errors = []

    def write(prefix):
        store = _store(tmp_path)
        try:
            for i in range(12):
                store.add({f"{prefix}{i}": _row(i)})
                store.tidy([])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(p,)) for p in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert set(_store(tmp_path).read()) == {f"{p}{i}" for p in "ab" for i in range(12)}
    assert len(list((tmp_path / "k" / "v").glob("seg-*.safetensors"))) <= 3


def test_damaged_bytes_inside_a_segment_are_dropped_not_used(tmp_path):
    """Garbage in a file's data with its header intact: the checksum catches the rows it hit."""
    store = _store(tmp_path)
    store.add({f"p{i}": _row(i + 1) for i in range(4)})
    (seg,) = (tmp_path / "k" / "v").glob("seg-*.safetensors")
    data = bytearray(seg.read_bytes())
    data[-ROW * 2 + 10:-ROW * 2 + 20] = b"\xff" * 10  # inside the last row's bytes
    seg.write_bytes(bytes(data))
    assert set(store.read()) == {"p0", "p1", "p2"}


def test_a_row_that_is_not_finite_is_never_used(tmp_path):
    store = _store(tmp_path)
    store.add({"good": _row(1), "nan": torch.full((ROW,), float("nan"), dtype=torch.float16)})
    assert set(store.read()) == {"good"}


def test_a_disk_that_refuses_the_cache_is_said_once_and_costs_nothing_else(tmp_path, monkeypatch):
    warnings = []
    store = _store(tmp_path, warnings=warnings)

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(cache_store, "atomic_write_bytes", full)
    store.add({"a": _row(1)})
    store.add({"b": _row(2)})
    assert len(warnings) == 1 and "the disk is full" in warnings[0] and "goes on without it" in warnings[0]
    assert store.failed and store.read() == {}


def test_a_read_only_cache_folder_still_gives_features(tmp_path, trained_run, tiny_data):
    """The cache cannot even be made: the features are computed, used and reported, with one warning."""
    from flowerstudio.core.model.model_file import load_model
    from flowerstudio.core.photos.scan import scan_dataset
    from flowerstudio.core.runtime.transforms import eval_transform

    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    model, info = load_model(trained_run.best_path)
    events = []
    paths = [s.path for s in scan_dataset(tiny_data).val]
    cache = FeatureCache(blocked, {"backbone": "x"}, events.append)
    feats, ok = cache.features("val", paths, [0] * len(paths), eval_transform(info.preprocessing), model.backbone,
                               torch.device("cpu"), 4, callback=events.append)
    assert ok.all() and feats.shape[0] == len(paths) and torch.isfinite(feats.float()).all()
    warnings = [e.text for e in events if isinstance(e, Log) and e.level == "warning"]
    assert len(warnings) == 1 and "cannot be used" in warnings[0]


def test_size_cap_evicts_the_least_recently_used(tmp_path, monkeypatch):
    from flowerstudio.core.foundation.cachedisk import cache_size_bytes, evict

    rows = {f"p{i}": _row(i) for i in range(100)}  # about 51 KB per entry
    for key in ("a" * 20, "b" * 20):
        _store(tmp_path, key).add(rows)
    size = cache_size_bytes(tmp_path)
    os.utime(tmp_path / ("a" * 20), (1000, 1000))
    os.utime(tmp_path / ("b" * 20), (2000, 2000))
    _store(tmp_path, "a" * 20).read()  # using an entry makes it the most recent
    _store(tmp_path, "c" * 20).add(rows)
    evict(tmp_path, keep=tmp_path / ("c" * 20), limit=int(size * 1.2))  # room for two, not three
    assert (tmp_path / ("a" * 20)).is_dir() and (tmp_path / ("c" * 20)).is_dir()
    assert not (tmp_path / ("b" * 20)).exists() and cache_size_bytes(tmp_path) <= size * 1.2


def test_clear_cache_removes_only_cache_folders(tmp_path):
    from flowerstudio.core.foundation.cachedisk import cache_size_bytes, clear_cache

    _store(tmp_path, "d" * 20).add({"p": _row(1)})
    (tmp_path / "notes.txt").write_text("the user's own file")
    size = cache_size_bytes(tmp_path)
    assert size > ROW * 2
    assert clear_cache(tmp_path) == size
    assert cache_size_bytes(tmp_path) == 0 and (tmp_path / "notes.txt").is_file()


@pytest.mark.parametrize("other", ["cuda", "mps"])
def test_features_from_another_device_or_dtype_are_kept_apart(other):
    cpu, elsewhere = torch.device("cpu"), torch.device(other)
    assert featurecache.stored_view("train0", cpu) != featurecache.stored_view("train0", elsewhere)
    assert "float32" in featurecache.stored_view("train0", cpu)
    assert "float16" in featurecache.stored_view("train0", torch.device("cuda"))
