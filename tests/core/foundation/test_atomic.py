"""The atomic writer and unique run folders."""
import os
import stat
import threading

import pytest

from flowerstudio.core.runs import folders as runs
from flowerstudio.core.foundation.atomic import atomic_path, atomic_write_bytes


def _mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_atomic_files_get_the_users_normal_mode(tmp_path):
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic_write_bytes(tmp_path / "new.txt", b"x")
    with atomic_path(tmp_path / "new2.bin") as tmp:
        tmp.write_bytes(b"y")
    assert _mode(tmp_path / "new.txt") == _mode(plain) == _mode(tmp_path / "new2.bin")
    os.chmod(plain, 0o640)
    atomic_write_bytes(plain, b"replaced")
    assert _mode(plain) == 0o640  # a replaced file keeps the mode it had


def test_atomic_path_leaves_nothing_when_the_writer_fails(tmp_path):
    target = tmp_path / "model.onnx"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("exporter failed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]


def test_two_runs_started_in_the_same_second_get_two_folders(tmp_path, monkeypatch):
    """Both threads decide on a name before either creates it: the classic check-then-create race."""
    monkeypatch.setattr(runs.time, "strftime", lambda fmt: "20250101-120000")
    real_mkdir = os.mkdir
    both_ready = threading.Barrier(2, timeout=30)
    first_call = threading.local()

    def mkdir(path, *args, **kw):
        if str(path).endswith("-resnet18") and not getattr(first_call, "done", False):
            first_call.done = True
            both_ready.wait()  # each thread's first attempt happens at the same moment
        return real_mkdir(path, *args, **kw)

    monkeypatch.setattr(os, "mkdir", mkdir)
    made, errors = [], []

    def start_run():
        try:
            made.append(runs.new_run_dir(tmp_path / "runs", "resnet18"))
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(exc)

    threads = [threading.Thread(target=start_run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    assert sorted(p.name for p in made) == ["20250101-120000-resnet18", "20250101-120000-resnet18-2"]
    assert all(p.is_dir() for p in made)
