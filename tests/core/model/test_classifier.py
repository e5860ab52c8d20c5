import pytest
import torch

from flowerstudio.core.model.backbones import BACKBONES
from flowerstudio.core.model.classifier import build_classifier, count_parameters


@pytest.mark.parametrize("name", list(BACKBONES))
def test_registry_entry_builds_and_its_layout_is_real(name):
    spec = BACKBONES[name]
    model = build_classifier(name, 5, pretrained=False).eval()
    with torch.inference_mode():
        assert model(torch.zeros(2, 3, 64, 64)).shape == (2, 5)
    names = {n for n, _ in model.backbone.named_modules()}
    for stage in spec.stages:
        for prefix in stage:
            assert prefix in names, f"{name}: stage prefix {prefix} is not a module"
    assert spec.cam_layer in names
    # Every parameter of the backbone belongs to some stage, so 'last K stages' covers all at K = num_stages.
    model.set_trainable("last_stages", spec.num_stages)
    assert all(p.requires_grad for p in model.parameters())


def test_frozen_trains_only_the_head_and_keeps_backbone_in_eval():
    model = build_classifier("efficientnet_lite0", 3, pretrained=False)
    model.set_trainable("frozen")
    model.train()
    assert not any(p.requires_grad for p in model.backbone.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    assert not any(m.training for m in model.backbone.modules())
    groups = model.param_groups(1e-3, 0.1)
    assert [g["name"] for g in groups] == ["head"]


def test_last_stages_freezes_the_rest_including_batchnorm():
    model = build_classifier("resnet18", 3, pretrained=False)
    model.set_trainable("last_stages", 1)
    model.train()
    assert all(p.requires_grad for p in model.backbone.layer4.parameters())
    assert not any(p.requires_grad for p in model.backbone.layer3.parameters())
    assert not model.backbone.bn1.training and not model.backbone.layer3[0].bn1.training
    assert model.backbone.layer4[0].bn1.training
    groups = {g["name"]: g for g in model.param_groups(1e-3, 0.1)}
    assert groups["backbone"]["lr"] == pytest.approx(1e-4)


def test_count_parameters_grows_with_depth():
    head, total = count_parameters("resnet18", 10, "frozen")
    assert head == 512 * 10 + 10
    last, _ = count_parameters("resnet18", 10, "last_stages", 1)
    everything, total2 = count_parameters("resnet18", 10, "all")
    assert head < last < everything == total == total2
