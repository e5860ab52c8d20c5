"""Export never overwrites unasked, keeps best.v1/best.v2 apart, and leaves nothing when cancelled."""
import shutil
from pathlib import Path

import pytest

from flowerstudio.cli import main
from flowerstudio.core.photos import imageio
from flowerstudio.core.foundation.events import Cancelled, CancelToken
from flowerstudio.core.labelling.export import ExportError, default_out_path, export_model
from flowerstudio.core.labelling.predict import list_images

pytestmark = pytest.mark.filterwarnings("ignore:`torch.jit")


def test_default_names_keep_the_full_stem():
    assert default_out_path("run/best.v1.safetensors", "onnx") == Path("run/best.v1.onnx")
    assert default_out_path("run/best.v2.safetensors", "onnx") == Path("run/best.v2.onnx")
    assert default_out_path("run/best.safetensors", "torchscript") == Path("run/best.torchscript.pt")


def test_an_existing_file_is_replaced_only_when_asked(trained_run, tmp_path, capsys):
    out = tmp_path / "m.pt"
    out.write_bytes(b"the user's own file")
    with pytest.raises(ExportError, match="m.pt already exists"):
        export_model(trained_run.best_path, out, "torchscript")
    assert out.read_bytes() == b"the user's own file"
    assert main(["export", trained_run.best_path, "--format", "torchscript", "--out", str(out)]) == 2
    assert "already exists" in capsys.readouterr().err and out.read_bytes() == b"the user's own file"
    assert main(["export", trained_run.best_path, "--format", "torchscript", "--out", str(out), "--overwrite"]) == 0
    assert out.read_bytes() != b"the user's own file" and (tmp_path / "m.pt.json").is_file()
    # The model being exported is never replaced, --overwrite or not.
    before = open(trained_run.best_path, "rb").read()
    assert main(["export", trained_run.best_path, "--out", trained_run.best_path, "--overwrite"]) == 2
    assert "never overwritten" in capsys.readouterr().err and open(trained_run.best_path, "rb").read() == before


def test_cancel_during_the_check_leaves_no_file(trained_run, tiny_data, tmp_path, monkeypatch):
    token = CancelToken()
    real_load = imageio.load_image

    def load_and_cancel(*args, **kw):  # the user presses Cancel while the check runs
        token.cancel()
        return real_load(*args, **kw)

    monkeypatch.setattr(imageio, "load_image", load_and_cancel)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    model = shutil.copy(trained_run.best_path, tmp_path / "best.v1.safetensors")
    with pytest.raises(Cancelled):
        export_model(model, out_dir / "m.pt", "torchscript", list_images([tiny_data / "test"])[:3], cancel=token)
    assert list(out_dir.iterdir()) == []


def test_a_full_disk_is_named_not_blamed_on_the_exporter(trained_run, tmp_path, monkeypatch, capsys):
    import errno

    import torch

    def export_on_a_full_disk(*args, **kw):  # the exporter wraps the disk's OSError in its own error
        try:
            raise OSError(errno.ENOSPC, "No space left on device")
        except OSError as exc:
            raise RuntimeError("serialization failed") from exc

    monkeypatch.setattr(torch.onnx, "export", export_on_a_full_disk)
    out = tmp_path / "m.onnx"
    assert main(["export", trained_run.best_path, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "the disk is full" in err and "m.onnx" in err and "exporter" not in err
    assert list(tmp_path.iterdir()) == []  # no half-written file, no temporary left
