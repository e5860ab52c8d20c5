"""A torchvision built for another PyTorch is said in words, from the GUI's start-up and the CLI alike."""
import builtins

import pytest

from flowerstudio.core.foundation.errors import UserError
from flowerstudio.core.runtime import torch_pair

NMS = "operator torchvision::nms does not exist"  # what torchvision raises at import in that case


def mismatch(monkeypatch):
    """torchvision's import fails as a torchvision built for another PyTorch makes it fail."""
    real_import = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == "torchvision":
            raise RuntimeError(NMS)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


def test_a_mismatched_pair_names_both_versions_and_the_command_that_mends_it(monkeypatch):
    mismatch(monkeypatch)
    with pytest.raises(UserError) as err:
        torch_pair.import_torchvision()
    text = str(err.value)
    assert text.startswith("PyTorch ") and "do not belong together" in text and NMS in text
    assert "pip install --force-reinstall torch torchvision --index-url https://download.pytorch.org/whl/cpu" in text


def test_another_runtime_error_is_not_dressed_up(monkeypatch):
    real_import = builtins.__import__
    monkeypatch.setattr(builtins, "__import__", lambda name, *a, **k: (_ for _ in ()).throw(RuntimeError("other"))
                        if name == "torchvision" else real_import(name, *a, **k))
    with pytest.raises(RuntimeError, match="^other$"):
        torch_pair.import_torchvision()


def test_the_cli_says_it_in_one_line_and_exits_2(monkeypatch, capsys, tmp_path):
    from flowerstudio.cli import main

    mismatch(monkeypatch)
    assert main(["predict", str(tmp_path / "model.safetensors"), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: PyTorch ") and "do not belong together" in err


def test_a_matching_pair_imports():
    torch_pair.import_torchvision()  # this environment's own pair
