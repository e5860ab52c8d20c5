"""The cheaper CPU training step (training/lean.py, training/step.py) against the plain one."""
import copy
import logging

import pytest
import torch
from torch import nn

from flowerstudio.core.model.classifier import build_classifier
from flowerstudio.core.training import step as step_module
from flowerstudio.core.training.lean import lean
from flowerstudio.core.training.step import Step

CPU = torch.device("cpu")
SIZE = 64


def _classifier(name: str, pretrained: bool) -> nn.Module:
    torch.manual_seed(0)
    model = build_classifier(name, 3, pretrained=pretrained)
    if not pretrained:  # BatchNorm statistics of real activations, not the initial 0 and 1
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.momentum = None
        with torch.no_grad():
            model.train()(torch.randn(8, 3, SIZE, SIZE))
    model.set_trainable("all", 2, freeze_bn_stats=True)
    return model.to(memory_format=torch.channels_last).train()


def _batches(n: int = 3):
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(8, 3, SIZE, SIZE, generator=g).contiguous(memory_format=torch.channels_last),
             torch.randint(0, 3, (8,), generator=g)) for _ in range(n)]


def _flat(model: nn.Module) -> torch.Tensor:
    return torch.cat([p.detach().flatten() for p in model.parameters()])


def _lockstep(model: nn.Module, mixed_precision: bool) -> list[tuple[float, float, float]]:
    """Batch by batch, from the same weights: the plain step's loss, the lean step's (lean.py, inside its
    block) and the cosine between the two steps' updates."""
    plain, fast = copy.deepcopy(model), copy.deepcopy(model)
    # SGD: an update in proportion to the gradient (Adam's first is lr x the sign of each gradient's entry)
    plain_step = Step(plain, torch.optim.SGD(plain.parameters(), lr=1e-2), CPU)
    fast_step = Step(fast, torch.optim.SGD(fast.parameters(), lr=1e-2), CPU, mixed_precision=mixed_precision)
    out = []
    with lean(fast, SIZE):
        for k, (x, y) in enumerate(_batches()):
            fast.load_state_dict(plain.state_dict())
            before = _flat(plain)
            torch.manual_seed(k)  # the same dropout masks on both sides
            a = plain_step(x, y).loss
            torch.manual_seed(k)
            b = fast_step(x, y).loss
            out.append((a, b, nn.functional.cosine_similarity(_flat(plain) - before, _flat(fast) - before, 0).item()))
    return out


@pytest.mark.parametrize("name, pretrained", [("efficientnet_lite0", True), ("resnet18", False)])
def test_the_lean_step_gives_the_plain_steps_losses(name, pretrained, monkeypatch):
    model = _classifier(name, pretrained)
    for plain, folded, cosine in _lockstep(model, mixed_precision=False):  # float32: the same sums, reordered
        assert folded == pytest.approx(plain, rel=1e-4) and cosine > 0.999
    monkeypatch.setattr(step_module, "cpu_has_bf16", lambda: True)  # emulated where the CPU lacks it: slow, same
    for plain, bf16, cosine in _lockstep(model, mixed_precision=True):
        # bfloat16 keeps 8 bits of each number: the gradients are those of float32 within about 20 %
        # (cosine 0.97-0.98 on real photos, benchmarks/README.md), far less than a batch's own noise
        assert bf16 == pytest.approx(plain, rel=2e-2) and cosine > 0.9


def test_a_cpu_without_bfloat16_runs_float32_and_says_so_once(monkeypatch, caplog):
    monkeypatch.setattr(step_module, "cpu_has_bf16", lambda: False)
    model = _classifier("resnet18", pretrained=False)
    with caplog.at_level(logging.WARNING, logger="flowerstudio"):
        steps = _lockstep(model, mixed_precision=True)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING] == [
        "This CPU has no bfloat16 instructions (AVX512-BF16 or AMX): the training steps run in float32, slower "
        "than on a CPU with them"]
    for plain, fallback, cosine in steps:
        assert fallback == pytest.approx(plain, rel=1e-4) and cosine > 0.999


class _NotAfterTheConv(nn.Module):
    """A BatchNorm registered right after a convolution but applied to something else."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(3)
        self.bn.running_mean.fill_(0.5)
        self.bn.weight.data.fill_(2.0)

    def forward(self, x):
        return (self.conv(x) + self.bn(x)).mean((2, 3))


def test_a_network_the_fold_would_change_is_left_unfolded_with_one_warning(caplog):
    model = _NotAfterTheConv().eval()
    x = torch.randn(2, 3, 8, 8)
    before = model(x)
    with caplog.at_level(logging.WARNING, logger="flowerstudio"):
        with lean(model, 8) as folded:
            assert folded == 0 and torch.equal(model(x), before)
    assert len([r for r in caplog.records if "could not be folded" in r.getMessage()]) == 1


def test_outside_the_block_the_network_is_the_plain_one():
    model = _classifier("efficientnet_lite0", pretrained=True)
    keys, x = list(model.state_dict()), _batches(1)[0][0]
    with lean(model, SIZE) as folded:
        assert folded == 49 and list(model.state_dict()) == keys
        assert all("forward" not in vars(m) for m in model.modules() if not isinstance(m, (nn.Conv2d, nn.BatchNorm2d)))
    assert all("forward" not in vars(m) for m in model.modules())
    assert model.training and not model.backbone.bn1.training  # modes as they were (BatchNorm frozen)
    with torch.no_grad():
        model.eval()
        plain = model(x)
        with lean(model, SIZE):
            assert torch.allclose(model(x), plain, rtol=1e-4, atol=1e-4)


def test_batchnorm_that_trains_its_statistics_is_not_folded():
    torch.manual_seed(0)
    model = build_classifier("resnet18", 3, pretrained=False)
    model.set_trainable("all", 2, freeze_bn_stats=False)
    model.train()
    x = _batches(1)[0][0]
    plain = copy.deepcopy(model)
    plain(x)
    with lean(model, SIZE):
        model(x)
    assert torch.allclose(model.backbone.bn1.running_mean, plain.backbone.bn1.running_mean)
    assert not torch.equal(model.backbone.bn1.running_mean, torch.zeros(64))  # the statistics did move


def test_under_bfloat16_only_the_depthwise_convolutions_it_would_slow_run_in_float32():
    net = nn.Sequential(nn.Conv2d(8, 8, 5, padding=2, groups=8), nn.Conv2d(8, 8, 3, padding=1, groups=8),
                        nn.Conv2d(8, 8, 3, stride=2, groups=8))
    frozen = copy.deepcopy(net).requires_grad_(False)
    x = torch.randn(1, 8, 12, 12)
    with lean(net, 12), lean(frozen, 12), torch.autocast("cpu", dtype=torch.bfloat16):
        assert [m(x).dtype for m in net] == [torch.float32, torch.bfloat16, torch.float32]
        assert [m(x).dtype for m in frozen] == [torch.bfloat16] * 3  # no backward: bfloat16's forward is fast


@pytest.mark.parametrize("size", [12, 13])  # even: padded (0, 1); odd: (1, 1)
@pytest.mark.parametrize("kernel", [3, 5])
def test_same_padding_by_a_wider_kernel_gives_the_same_sums_without_a_padded_copy(monkeypatch, kernel, size):
    from timm.layers.conv2d_same import Conv2dSame

    torch.manual_seed(0)
    net = nn.Sequential(Conv2dSame(6, 6, kernel, stride=2, groups=6), Conv2dSame(6, 6, 3, stride=1, groups=6))
    wide = copy.deepcopy(net)
    x = torch.randn(2, 6, size, size).contiguous(memory_format=torch.channels_last)
    xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
    plain_out = net(xa)
    pads = []
    real_pad = nn.functional.pad
    monkeypatch.setattr(nn.functional, "pad", lambda t, *a, **k: pads.append(t.shape[1]) or real_pad(t, *a, **k))
    with lean(wide, size):
        wide_out = wide(xb)
    assert pads and set(pads) == {1}  # only the (C, 1, k, k) kernels were padded, not the activations
    assert torch.allclose(wide_out, plain_out, atol=1e-5)
    g = torch.randn_like(plain_out)
    plain_out.backward(g)
    wide_out.backward(g)
    assert torch.allclose(xa.grad, xb.grad, atol=1e-5)
    for p, q in zip(net.parameters(), wide.parameters()):
        assert q.grad.shape == p.shape and torch.allclose(p.grad, q.grad, atol=1e-4)


def test_a_dense_same_padded_convolution_keeps_its_pad(monkeypatch):
    """The stem (3 input channels) measured slower with the wider kernel."""
    from timm.layers.conv2d_same import Conv2dSame

    stem = Conv2dSame(3, 8, 3, stride=2)
    pads = []
    real_pad = nn.functional.pad
    monkeypatch.setattr(nn.functional, "pad", lambda t, *a, **k: pads.append(t.shape[1]) or real_pad(t, *a, **k))
    with lean(stem, 12):
        stem(torch.randn(1, 3, 12, 12))
    assert pads == [3]
