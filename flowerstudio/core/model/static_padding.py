"""TensorFlow-style "same" padding made fixed for one input size, for the exported graph.

timm builds the TF-ported EfficientNets (Lite0, the default backbone) with ``Conv2dSame``: each
strided convolution works out its padding from the input's height and width at every call. Exported
as is, that is a Shape/Div/Ceil/Pad chain ONNX Runtime cannot fold, so every such convolution runs
as a separate Pad, and the blocked-layout (NCHWc) convolutions around it convert their data out of
and back into that layout: 30 % of Lite0's time at batch 32 on this project's 2-core CPU. A graph is
exported for one input size anyway (its key holds it), so the padding is a constant there: written
as a zero Pad of constant amounts, ONNX Runtime folds it into the convolution (125 -> 168 photos/s at
batch 32, benchmarks/README.md, engines).
"""
from __future__ import annotations

import copy

import torch
from torch import nn


def with_static_padding(net: nn.Module, shape: tuple[int, ...]) -> nn.Module:
    """``net``, or a copy of it whose dynamic-padding convolutions pad by the constant amounts an
    input of ``shape`` (C, H, W) needs; same outputs for that shape. ``net`` is left untouched."""
    try:
        from timm.layers.conv2d_same import Conv2dSame
        from timm.layers.padding import pad_same_arg
    except ImportError:  # no timm, no dynamic padding
        return net
    if not any(isinstance(m, Conv2dSame) for m in net.modules()):
        return net
    net = copy.deepcopy(net)
    sizes: dict[nn.Module, list[int]] = {}
    hooks = [m.register_forward_pre_hook(lambda m, args: sizes.__setitem__(m, list(args[0].shape[-2:])))
             for m in net.modules() if isinstance(m, Conv2dSame)]
    try:
        with torch.inference_mode(False), torch.no_grad():
            net(torch.zeros(1, *shape))  # what size reaches each convolution
    finally:
        for hook in hooks:
            hook.remove()
    for parent in list(net.modules()):
        for name, conv in list(parent.named_children()):
            if conv in sizes:
                pads = pad_same_arg(sizes[conv], list(conv.kernel_size), list(conv.stride), list(conv.dilation))
                plain = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, 0,
                                  conv.dilation, conv.groups, conv.bias is not None)
                plain.weight, plain.bias = conv.weight, conv.bias
                setattr(parent, name, nn.Sequential(nn.ZeroPad2d(pads), plain))
    return net
