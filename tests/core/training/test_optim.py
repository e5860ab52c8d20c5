"""The optimizers the trainer and the range test build from a config."""
import pytest
import torch
from torch import nn

from flowerstudio.core.foundation.config import TrainConfig
from flowerstudio.core.training.optim import make_optimizer
from flowerstudio.core.foundation.vocab import Optimizer


@pytest.mark.parametrize("kind", [Optimizer.ADAM, Optimizer.ADAMW])
def test_the_fused_adam_steps_as_the_plain_one(kind):
    # The app's Adam runs one fused kernel per parameter (faster head epochs); it must land where
    # torch's reference loop does, channels-last convolution weights included.
    def trained(make):
        torch.manual_seed(0)
        net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Linear(4 * 6 * 6, 3))
        net = net.to(memory_format=torch.channels_last)
        x, y = torch.randn(8, 3, 8, 8), torch.randint(3, (8,))
        opt = make(net.parameters())
        for _ in range(20):
            loss = nn.functional.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return [p.detach() for p in net.parameters()]

    cfg = TrainConfig(optimizer=kind, lr=1e-2, weight_decay=1e-3)
    app = trained(lambda params: make_optimizer(cfg, [{"params": list(params), "lr": cfg.lr}]))
    plain_cls = torch.optim.Adam if kind == Optimizer.ADAM else torch.optim.AdamW
    plain = trained(lambda params: plain_cls(params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=False))
    assert make_optimizer(cfg, [{"params": [nn.Parameter(torch.zeros(1))]}]).defaults["fused"]
    for a, b in zip(app, plain):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)
    assert any((p - q).abs().max() > 1e-3 for p, q in zip(app, trained(lambda ps: plain_cls(ps, lr=cfg.lr / 2))))
