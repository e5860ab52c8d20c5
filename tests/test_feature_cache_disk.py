"""The feature cache on disk: no lost rows between writers, a size cap, Clear cache, device/dtype in the key."""
import os
import threading

import pytest
import torch

from flowerstudio.core import featurecache, filelock
from flowerstudio.core.featurecache import FeatureCache

ROW = 256  # floats per feature row: 512 bytes in float16


def _row(seed):
    return torch.full((ROW,), float(seed), dtype=torch.float16)


def _cache(root, name="a"):
    return FeatureCache(root, {"backbone": name})


def test_a_second_writer_adds_to_the_file_instead_of_replacing_it(tmp_path):
    first, second = _cache(tmp_path), _cache(tmp_path)
    first._write("v", {"photo1": _row(1)})
    second._write("v", {"photo2": _row(2)})  # a run that read the file before the first one wrote
    assert set(first._read("v")) == {"photo1", "photo2"}


def test_concurrent_writers_wait_for_each_other(tmp_path, monkeypatch):
    """The second writer asks for the lock while the first is between its read and its write."""
    a_inside, b_waiting = threading.Event(), threading.Event()
    real_read, real_lock = FeatureCache._read, filelock._lock
    writer = threading.local()

    def read(self, view):
        rows = real_read(self, view)
        if getattr(writer, "name", "") == "A" and not a_inside.is_set():
            a_inside.set()
            assert b_waiting.wait(30), "the second writer never asked for the lock"
        return rows

    def lock(fd):
        if getattr(writer, "name", "") == "B":
            b_waiting.set()
        real_lock(fd)

    monkeypatch.setattr(FeatureCache, "_read", read)
    monkeypatch.setattr(filelock, "_lock", lock)
    errors = []

    def write(name, key):
        writer.name = name
        try:
            _cache(tmp_path)._write("v", {key: _row(len(key))})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    a = threading.Thread(target=write, args=("A", "photo-a"))
    a.start()
    assert a_inside.wait(30)
    b = threading.Thread(target=write, args=("B", "photo-b"))
    b.start()
    a.join(60)
    b.join(60)
    assert errors == []
    assert set(real_read(_cache(tmp_path), "v")) == {"photo-a", "photo-b"}


def test_size_cap_evicts_the_least_recently_used(tmp_path, monkeypatch):
    from flowerstudio.core.cachedisk import cache_size_bytes

    rows = {f"p{i}": _row(i) for i in range(100)}  # about 51 KB per cache file
    one, two, three = (_cache(tmp_path, n) for n in ("one", "two", "three"))
    one._write("v", rows)
    two._write("v", rows)
    size = cache_size_bytes(tmp_path)
    os.utime(one.folder, (1000, 1000))
    os.utime(two.folder, (2000, 2000))
    one._read("v")  # using a cache makes it the most recent
    monkeypatch.setenv("FLOWERSTUDIO_CACHE_MAX_MB", str(size * 1.2 / 2 ** 20))  # room for two, not three
    three._write("v", rows)
    assert one.folder.is_dir() and three.folder.is_dir() and not two.folder.exists()
    assert cache_size_bytes(tmp_path) <= size * 1.2


def test_clear_cache_removes_only_cache_folders(tmp_path):
    from flowerstudio.core.cachedisk import cache_size_bytes, clear_cache

    _cache(tmp_path)._write("v", {"p": _row(1)})
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
