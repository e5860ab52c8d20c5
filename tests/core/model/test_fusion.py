import pytest
import torch

from flowerstudio.core.model.fusion import fuse_for_inference
from flowerstudio.core.model.backbones import BACKBONES
from flowerstudio.core.model.classifier import build_classifier


@pytest.mark.parametrize("name", list(BACKBONES))
def test_fused_backbone_computes_the_same(name):
    torch.manual_seed(0)
    model = build_classifier(name, 4, pretrained=False).eval()
    for m in model.modules():  # non-trivial statistics, so a wrong fusion would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    fused = fuse_for_inference(model)
    bns = sum(isinstance(m, torch.nn.BatchNorm2d) for m in fused.modules())
    if name != "convnext_tiny":  # ConvNeXt has LayerNorm, nothing to fuse
        assert bns == 0, f"{bns} BatchNorm layers left unfused"
    x = torch.randn(2, 3, 64, 64)
    with torch.inference_mode():
        assert torch.allclose(model(x), fused(x), atol=1e-4, rtol=1e-4)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()) or name == "convnext_tiny"
