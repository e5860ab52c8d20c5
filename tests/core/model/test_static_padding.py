"""TF-style 'same' padding as constants: the same outputs, for a fixed input size."""
import torch

from flowerstudio.core.model.classifier import build_classifier
from flowerstudio.core.model.static_padding import with_static_padding


def test_the_static_network_computes_what_the_dynamic_one_does():
    net = build_classifier("efficientnet_lite0", 3, pretrained=False).eval()
    static = with_static_padding(net, (3, 96, 96))
    x = torch.randn(2, 3, 96, 96)
    with torch.inference_mode():
        assert torch.allclose(net(x), static(x), atol=1e-5)
    assert static is not net
