"""What a user reads when the disk refuses: the path, what happened in plain words, and what to do."""
import errno
import pickle
from collections import namedtuple

import pytest

from flowerstudio.core.foundation import errors
from flowerstudio.core.foundation.errors import DiskError, UserError, describe, disk_errors, ensure_writable


@pytest.mark.parametrize("code, words, advice", [
    (errno.ENOSPC, "the disk is full", "free some space"), (errno.EROFS, "read-only", "a disk you can write to"),
    (errno.EACCES, "no permission", "permissions"), (errno.ENAMETOOLONG, "too long", "shorter"),
])
def test_a_disk_error_names_the_file_what_happened_and_what_to_do(code, words, advice):
    exc = DiskError("/data/runs/best.safetensors", OSError(code, "raw"))
    text = str(exc)
    assert text.startswith("Cannot write /data/runs/best.safetensors: ") and words in text and advice in text
    assert isinstance(exc, UserError) and isinstance(exc, OSError) and exc.errno == code
    again = pickle.loads(pickle.dumps(exc))  # crosses process boundaries (torchrun, loader workers)
    assert str(again) == text


def test_an_oserror_anywhere_is_described_with_its_file():
    assert "Cannot use /x/y: the disk is full" in describe(OSError(errno.ENOSPC, "No space", "/x/y"))
    assert describe(UserError("bad  input\nhere")) == "bad input here"  # one line
    with pytest.raises(DiskError, match="Cannot read /p: it does not exist"):
        with disk_errors("/p", "read"):
            open("/definitely/not/here", encoding="utf-8")


def test_a_folder_is_checked_for_room_before_long_work(tmp_path, monkeypatch):
    ensure_writable(tmp_path / "new" / "runs", 1000, "the runs folder")  # made, written in, enough room
    assert (tmp_path / "new" / "runs").is_dir() and list((tmp_path / "new" / "runs").iterdir()) == []
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(errors.shutil, "disk_usage", lambda _p: usage(10**9, 10**9 - 5 * 10**6, 5 * 10**6))
    with pytest.raises(DiskError, match=r"the disk is full \(5 MB free, 331 MB needed\)"):
        ensure_writable(tmp_path, 300 * 1024 * 1024, "the runs folder")
