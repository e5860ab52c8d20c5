"""A cheaper fine-tuning step on the CPU: what measured faster in benchmarks/finetune.py (benchmarks/README.md,
finetune), for EfficientNet-Lite0 at 224 px on a 2-core AVX-512 CPU, at the same accuracy.

- BatchNorm folded into the convolution before it. Fine-tuning keeps every BatchNorm in inference mode
  (``freeze_bn_stats``, the default), where it is an affine map: ``bn(conv(x, W))`` is
  ``conv(x, W * s) + t`` with ``s = gamma / sqrt(var + eps)`` and ``t = beta - mean * s``. The
  normalisation and its backward then make no passes over the activations of their own (with them,
  a quarter of the step's time went to BatchNorm and to the copies around its backward); the gradients
  still reach W, gamma and beta, through ``W * s`` and ``t``. The same numbers up to rounding
  (tests/core/training/test_step.py). A BatchNorm in training mode (``freeze_bn_stats`` off) is left as it is.
- Under bfloat16 autocast (step.py), the depthwise convolutions oneDNN has no fast bfloat16 backward for
  (kernel over 3x3, or strided: its fast depthwise weight-gradient kernel takes only 3x3) run in float32:
  in bfloat16 their backward took 4-7x as long as in float32 and made the whole step slower than float32.

- TF-style "same" padding (timm's ``Conv2dSame``, the default Lite0's strided depthwise convolutions) done by
  a kernel one wider instead of a padded copy of the activations (``_same_as_wider_kernel``): the same sums,
  without a copy that cost more than the convolution.

The patches live on the modules' instances, only inside ``lean(...)``: classes, parameters, ``state_dict``
and the saved model files are those of the plain network. A network the folding would change (a
BatchNorm registered after a convolution but not applied to its output) is left unfolded, with one warning.
"""
from __future__ import annotations

import functools
import logging
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

import torch
from torch import nn

_log = logging.getLogger(__name__)

try:
    from timm.layers.conv2d_same import Conv2dSame as _Conv2dSame
    from timm.layers.padding import pad_same_arg
except ImportError:  # no timm, no TF-style padding
    _Conv2dSame = pad_same_arg = None


def cpu_has_bf16() -> bool:
    """Whether this CPU has bfloat16 dot-product instructions (AVX512-BF16 or AMX). Without them oneDNN
    emulates bfloat16, slower than float32, so the step stays in float32."""
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        probe = getattr(torch.cpu, name, None)  # private in torch 2.x: absent means "not known to have it"
        try:
            if probe is not None and probe():
                return True
        except Exception:  # noqa: BLE001 - a probe that fails says nothing about the CPU: float32 is safe
            continue
    return False


def _tail(bn: nn.Module) -> Optional[Callable[[torch.Tensor], torch.Tensor]]:
    """What ``bn`` does after normalising (None: a BatchNorm this module does not know how to fold)."""
    if type(bn) is nn.BatchNorm2d:
        return lambda x: x
    if isinstance(bn, nn.BatchNorm2d) and type(bn).__name__ == "BatchNormAct2d":  # timm's: dropout, activation
        return lambda x: bn.act(bn.drop(x))
    return None


def _foldable(conv: nn.Module, bn: nn.Module) -> bool:
    return (isinstance(conv, nn.Conv2d) and _tail(bn) is not None and bn.affine and bn.track_running_stats
            and bn.running_mean is not None and conv.out_channels == bn.num_features)


def _slow_in_bf16(conv: nn.Conv2d) -> bool:
    """A depthwise convolution whose bfloat16 backward oneDNN runs on its slow generic kernel."""
    depthwise = conv.groups > 1 and conv.groups == conv.in_channels
    return depthwise and (max(conv.kernel_size) > 3 or max(conv.stride) > 1)


def _same_as_wider_kernel(conv: nn.Conv2d, x: torch.Tensor, weight: torch.Tensor,
                          bias: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """A depthwise TF-"same" convolution without its padded copy of ``x``, or None where this does not apply.

    timm's ``Conv2dSame`` pads its input by (a, b) on each axis, b = a + 1 at a stride of 2, then convolves
    unpadded. The same sums come from the kernel with a zero row and column in front, padded symmetrically
    by b: output i reads x[s*i - b + j + 1] * w[j] = x[s*i - a + j] * w[j]; the output sizes agree. The padded
    copy of a 16 x 96 x 112 x 112 activation took 67 ms, the whole convolution with the wider kernel 2.5 ms;
    with the backward, Lite0's four strided depthwise convolutions at batch 16 took 114 ms, 69 ms so. Dense
    convolutions (the stem) measured slower so: they keep the pad."""
    if not (_is_conv2d_same(conv) and conv.groups == conv.in_channels > 1 and conv.dilation == (1, 1)):
        return None
    left, right, top, bottom = pad_same_arg(list(x.shape[-2:]), list(conv.kernel_size), list(conv.stride),
                                            list(conv.dilation))
    grow_w, grow_h = right - left, bottom - top
    if grow_w not in (0, 1) or grow_h not in (0, 1):
        return None
    return nn.functional.conv2d(x, nn.functional.pad(weight, (grow_w, 0, grow_h, 0)), bias, conv.stride,
                                (bottom, right), 1, conv.groups)


def _is_conv2d_same(conv: nn.Module) -> bool:
    return _Conv2dSame is not None and isinstance(conv, _Conv2dSame)


def _run(conv: nn.Conv2d, x: torch.Tensor, weight: torch.Tensor, bias: Optional[torch.Tensor],
         wide: bool) -> torch.Tensor:
    """The convolution's own forward (padding, TF-style "same" padding and all) with other weights."""
    out = _same_as_wider_kernel(conv, x, weight, bias) if wide else None
    if out is not None:
        return out
    params = conv._parameters
    kept = params["weight"], params["bias"]
    params["weight"], params["bias"] = weight, bias
    try:
        return type(conv).forward(conv, x)
    finally:
        params["weight"], params["bias"] = kept


def _conv_forward(conv: nn.Conv2d, bn: Optional[nn.BatchNorm2d], wide: bool, x: torch.Tensor) -> torch.Tensor:
    weight, bias = conv.weight, conv.bias
    if bn is not None and not bn.training:
        scale = bn.weight * torch.rsqrt(bn.running_var + bn.eps)
        weight = weight * scale.reshape(-1, 1, 1, 1)
        shift = bn.running_mean if bias is None else bn.running_mean - bias
        bias = bn.bias - shift * scale
    if (torch.is_autocast_enabled("cpu") and torch.is_grad_enabled() and _slow_in_bf16(conv)
            and (x.requires_grad or conv.weight.requires_grad)):
        with torch.autocast("cpu", enabled=False):
            return _run(conv, x.float(), weight, bias, wide)
    return _run(conv, x, weight, bias, wide)


def _bn_forward(bn: nn.BatchNorm2d, tail: Callable, x: torch.Tensor) -> torch.Tensor:
    return type(bn).forward(bn, x) if bn.training else tail(x)


def _pairs(model: nn.Module) -> list[tuple[nn.Conv2d, nn.BatchNorm2d]]:
    """Each convolution with the BatchNorm registered right after it in the same parent: every backbone in
    the registry applies that BatchNorm to the convolution's output (model/fusion.py relies on the same);
    lean() checks it on a probe batch."""
    pairs = []
    for parent in model.modules():
        children = list(parent._modules.values())
        pairs += [(conv, bn) for conv, bn in zip(children, children[1:]) if _foldable(conv, bn)]
    return pairs


class _Patches:
    """Instance-level forwards on a network's convolutions (and the BatchNorms of ``pairs`` folded into them)."""

    def __init__(self, model: nn.Module, pairs: list[tuple[nn.Conv2d, nn.BatchNorm2d]], wide: bool) -> None:
        self.modules: list[nn.Module] = []
        for conv, bn in pairs:
            self._patch(conv, functools.partial(_conv_forward, conv, bn, wide))
            self._patch(bn, functools.partial(_bn_forward, bn, _tail(bn)))
        self.folded = len(pairs)
        paired = {id(conv) for conv, _ in pairs}
        for conv in model.modules():
            if not isinstance(conv, nn.Conv2d) or id(conv) in paired:
                continue
            if _slow_in_bf16(conv) or (wide and _is_conv2d_same(conv)):
                self._patch(conv, functools.partial(_conv_forward, conv, None, wide))

    def _patch(self, module: nn.Module, forward: Callable) -> None:
        module.forward = forward
        self.modules.append(module)

    def remove(self) -> None:
        for module in self.modules:
            del module.forward  # the class's forward again
        self.modules = []


def _logits(model: nn.Module, probe: torch.Tensor) -> torch.Tensor:
    """``model(probe)`` in inference mode, every module's mode restored as it was."""
    modes = {m: m.training for m in model.modules()}
    model.eval()
    try:
        with torch.no_grad():
            return model(probe).float()
    finally:
        for m, training in modes.items():
            m.training = training


@contextmanager
def lean(model: nn.Module, input_size: int, fold: bool = True, wide: bool = True) -> Iterator[int]:
    """Inside the block, ``model`` (on the CPU) runs its steps as this module's docstring says; yields how
    many BatchNorms were folded. The fold is checked once, on a probe batch, against the plain network.
    ``fold``, ``wide`` (the wider kernels for "same" padding): off only to measure each on its own."""
    pairs = _pairs(model) if fold else []
    plain = probe = None
    if pairs:
        probe = torch.randn(2, 3, input_size, input_size, generator=torch.Generator().manual_seed(0))
        probe = probe.contiguous(memory_format=torch.channels_last)
        plain = _logits(model, probe)
    patches = _Patches(model, pairs, wide)
    if plain is not None:
        gap = (_logits(model, probe) - plain).abs().max().item()
        if not gap <= 1e-3 * max(1.0, plain.abs().max().item()):
            patches.remove()
            _log.warning("BatchNorm could not be folded into the convolutions of this network (its outputs "
                         "moved by %.3g): fine-tuning runs it unfolded, slower", gap)
            patches = _Patches(model, [], wide)
    try:
        yield patches.folded
    finally:
        patches.remove()
