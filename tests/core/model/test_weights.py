"""Weights download code is real: a loopback HTTP server stands in for the internet."""
import hashlib
import http.server
import io
import threading
from functools import partial

import pytest
import torch
import torchvision

from flowerstudio.core.model import weights
from flowerstudio.core.foundation.events import PhaseStarted, Progress

from flowerstudio.core.model.classifier import build_classifier


@pytest.fixture
def server(tmp_path):
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield tmp_path, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _publish(folder, state, corrupt=False):
    buf = io.BytesIO()
    torch.save(state, buf)
    data = buf.getvalue()
    name = f"resnet18-{hashlib.sha256(data).hexdigest()[:8]}.pth"
    (folder / name).write_bytes(data[:-1] + b"x" if corrupt else data)
    return name


def test_download_into_hub_cache_with_progress(server, monkeypatch, tmp_path):
    folder, base = server
    name = _publish(folder, torchvision.models.resnet18().state_dict())
    monkeypatch.setattr(weights, "_torchvision_url", lambda spec: f"{base}/{name}")
    hub = tmp_path / "hub"
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(hub))
    events = []
    model = build_classifier("resnet18", 4, callback=events.append)
    assert (hub / "checkpoints" / name).is_file()
    assert any(isinstance(e, PhaseStarted) and e.phase == "download" for e in events)
    last = [e for e in events if isinstance(e, Progress)][-1]
    assert last.done == last.total > 40_000_000
    assert model.head.out_features == 4


def test_corrupt_download_is_rejected(server, monkeypatch, tmp_path):
    folder, base = server
    name = _publish(folder, {"w": torch.zeros(10)}, corrupt=True)
    monkeypatch.setattr(weights, "_torchvision_url", lambda spec: f"{base}/{name}")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(weights.WeightsUnavailableError, match="hash mismatch"):
        build_classifier("resnet18", 4)
    assert not list((tmp_path / "hub" / "checkpoints").iterdir())


def test_offline_error_says_which_file_where_and_what_works(monkeypatch, tmp_path):
    monkeypatch.setattr(weights, "_torchvision_url", lambda spec: "http://127.0.0.1:9/resnet18-f37072fd.pth")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    with pytest.raises(weights.WeightsUnavailableError) as err:
        build_classifier("resnet18", 4)
    text = str(err.value)
    assert "resnet18-f37072fd.pth" in text and str(tmp_path / "hub" / "checkpoints") in text
    assert "efficientnet_lite0 backbone works offline" in text and "--weights" in text


def test_weights_file_that_does_not_fit(tmp_path):
    torch.save({"w": torch.zeros(3)}, tmp_path / "other.pth")
    with pytest.raises(weights.WeightsUnavailableError, match="does not fit"):
        build_classifier("resnet18", 4, weights_file=str(tmp_path / "other.pth"))


def test_catalogue_urls_are_torchvisions_defaults():
    from flowerstudio.core.model.backbones import BACKBONES

    for spec in BACKBONES.values():
        if spec.weights_url:
            assert spec.weights_url == torchvision.models.get_model_weights(spec.name).DEFAULT.url


def test_offline_readiness_follows_the_hub_cache(tmp_path, monkeypatch):
    from flowerstudio.core.model.backbones import weights_available_offline

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path))
    assert weights_available_offline("efficientnet_lite0") and not weights_available_offline("resnet18")
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "resnet18-f37072fd.pth").write_bytes(b"x")
    assert weights_available_offline("resnet18")


def test_download_can_be_cancelled_between_chunks(server, monkeypatch, tmp_path):
    from flowerstudio.core.foundation.events import Cancelled, CancelToken

    folder, base = server
    name = _publish(folder, torchvision.models.resnet18().state_dict())  # about 45 chunks of 1 MB
    monkeypatch.setattr(weights, "_torchvision_url", lambda spec: f"{base}/{name}")
    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    token, chunks = CancelToken(), []

    def on_progress(event):
        if isinstance(event, Progress):
            chunks.append(event.done)
            token.cancel()  # the user presses Stop after the first chunk

    with pytest.raises(Cancelled):
        build_classifier("resnet18", 4, callback=on_progress, cancel=token)
    assert len(chunks) == 1 and not list((tmp_path / "hub" / "checkpoints").iterdir())
