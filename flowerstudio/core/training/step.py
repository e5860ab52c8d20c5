"""One training step, the same for every stage and for the learning-rate finder: forward, loss, backward
and the optimizer's step. Cached features and decoded photos both arrive here as (inputs, labels)."""
from __future__ import annotations

import logging
from dataclasses import dataclass

import torch
from torch import nn

from flowerstudio.core.training.lean import cpu_has_bf16
from flowerstudio.core.training.sources import autocast_for

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepResult:
    loss: float  # the batch's mean loss
    correct: int  # photos whose top class was right
    photos: int


class Step:
    """``step(x, y)`` trains ``net`` on one batch. ``mixed_precision``: autocast on CUDA (bfloat16 where the
    GPU has it, else float16 with a GradScaler), and bfloat16 autocast on a CPU with bfloat16 instructions:
    1.4-1.6x the photos a second of a float32 step for EfficientNet-Lite0 here, at the same accuracy
    (benchmarks/README.md, finetune; lean.py keeps the depthwise convolutions it would slow in float32).
    The weights, the optimizer and the loss stay float32. A CPU without those instructions runs float32."""

    def __init__(self, net: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device,
                 label_smoothing: float = 0.0, mixed_precision: bool = False) -> None:
        self.net, self.optimizer, self.device = net, optimizer, device
        self.loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
        self.amp = mixed_precision and device.type == "cuda"
        self.cpu_bf16 = mixed_precision and device.type == "cpu" and cpu_has_bf16()
        if mixed_precision and device.type == "cpu" and not self.cpu_bf16:
            _log.warning("This CPU has no bfloat16 instructions (AVX512-BF16 or AMX): the training steps run "
                         "in float32, slower than on a CPU with them")
        fp16 = self.amp and not torch.cuda.is_bf16_supported()
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16)

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> StepResult:
        with autocast_for(self.device, self.amp, self.cpu_bf16):
            logits = self.net(x)
            loss = self.loss_fn(logits, y)
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        return StepResult(loss.item(), int((logits.argmax(1) == y).sum()), int(y.shape[0]))

    def empty(self, input_size: int) -> None:
        """A zero-gradient step: under torchrun a batch of only unreadable photos on one process must still
        take part in the gradient exchange, or the others wait for it forever."""
        x = torch.zeros(1, 3, input_size, input_size, device=self.device).contiguous(
            memory_format=torch.channels_last)
        with autocast_for(self.device, self.amp, self.cpu_bf16):
            loss = self.net(x).sum() * 0.0
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
