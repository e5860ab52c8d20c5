"""Stop inside a training step, not after it: the cancel token is checked at every stage of the backbone, on the
way forward and on the way back. Between batches (fit.py) is too coarse on a CPU: a batch of 32 photos at
224 px takes about a second for EfficientNet-Lite0 on two cores, several for ResNet-50, and Stop would wait
for all of it.

A step stopped this way never reaches the optimizer's step (it comes after the backward): the weights stay
those of the last whole batch, and the stage ends as a stop between batches ends it (``Cancelled``).

Only for one process: under torchrun every process must stop at the same batch (a process leaving in the
middle of a backward would leave the others waiting in the gradient exchange), so there the check stays
between batches, where the processes agree on it.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator

import torch
from torch import nn

from flowerstudio.core.foundation.events import Cancelled, CancelToken
from flowerstudio.core.model.backbones import get_spec


def stage_modules(model: nn.Module, backbone_name: str) -> list[nn.Module]:
    """The modules that make up the backbone's stages (backbones.py), from input to output."""
    modules = []
    for prefix in (p for stage in get_spec(backbone_name).stages for p in stage):
        try:
            modules.append(model.backbone.get_submodule(prefix))
        except AttributeError:  # a catalogue entry this network does not have: one check fewer
            continue
    return modules


@contextmanager
def stop_inside_steps(model: nn.Module, backbone_name: str, cancel: CancelToken) -> Iterator[None]:
    """While inside: a set ``cancel`` raises ``Cancelled`` at the next backbone stage the step reaches, forward
    or backward. One process only (see the module's docstring)."""

    def check(*_args) -> None:
        if cancel.cancelled:
            raise Cancelled()

    def check_backward(output) -> None:
        if isinstance(output, torch.Tensor) and output.requires_grad:
            output.register_hook(check)  # called when the backward reaches this stage's output

    handles = []
    for module in stage_modules(model, backbone_name):
        handles.append(module.register_forward_pre_hook(check))
        handles.append(module.register_forward_hook(lambda _m, _i, out: check_backward(out)))
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()
