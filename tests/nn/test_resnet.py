"""ResNet34 vs torchvision: parameter count, weight mapping, eval outputs; train-mode parity."""

import pytest
import torch
import torchvision
from torchvision.models.resnet import BasicBlock
from torchvision.models.resnet import ResNet as TorchvisionResNet

from arena_core.nn import (
    ResNet,
    ResNetConfig,
    WeightMappingError,
    load_torchvision_weights,
    resnet34,
    small_resnet,
)
from arena_core.nn.pretrained import cached_resnet34_weights, sample_images


def _n_params(model):
    return sum(p.numel() for p in model.parameters())


def test_resnet34_parameter_count_matches_torchvision():
    ours = resnet34()
    assert _n_params(ours) == 21_797_672 == _n_params(torchvision.models.resnet34())


def test_resnet34_matches_torchvision_with_same_random_weights():
    tv = torchvision.models.resnet34().eval()
    with torch.no_grad():  # non-trivial BN statistics so that eval mode really uses them
        for m in tv.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_(0, 0.1), m.running_var.uniform_(0.5, 1.5)
    ours = load_torchvision_weights(resnet34(), tv.state_dict()).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        y_ours, y_tv = ours(x), tv(x)
    # float32 through 34 weight layers: the two differ only by summation order, ~1e-5 on O(1) logits
    torch.testing.assert_close(y_ours, y_tv, rtol=1e-4, atol=1e-4)
    assert (y_ours.argmax(-1) == y_tv.argmax(-1)).all()


def test_train_mode_outputs_and_gradients_match_torchvision_in_float64():
    tv = TorchvisionResNet(BasicBlock, [1, 2, 1, 1], num_classes=7).double().train()
    ours = ResNet(ResNetConfig(n_classes=7, n_blocks_per_group=(1, 2, 1, 1))).double().train()
    load_torchvision_weights(ours, tv.state_dict())
    x = torch.randn(3, 3, 40, 36, dtype=torch.float64)
    y_ours, y_tv = ours(x), tv(x)
    torch.testing.assert_close(y_ours, y_tv)
    y_ours.square().sum().backward()
    y_tv.square().sum().backward()
    # conv1 is first in the graph: its gradient has passed back through every layer
    torch.testing.assert_close(ours.in_layers[0].weight.grad, tv.conv1.weight.grad)
    torch.testing.assert_close(ours.head.weight.grad, tv.fc.weight.grad)
    torch.testing.assert_close(
        ours.residual_layers[1].blocks[0].right[0].weight.grad,
        tv.layer2[0].downsample[0].weight.grad,
    )
    torch.testing.assert_close(ours.in_layers[1].running_var, tv.bn1.running_var)


def test_weight_mapping_reports_missing_and_unexpected_keys():
    state = torchvision.models.resnet18().state_dict()
    with pytest.raises(WeightMappingError, match="does not fill"):
        load_torchvision_weights(resnet34(), state)  # resnet18 lacks blocks that resnet34 has
    extra = dict(state, **{"layer1.0.conv3.weight": torch.zeros(1)})
    ours18 = ResNet(ResNetConfig(n_blocks_per_group=(2, 2, 2, 2)))
    with pytest.raises(WeightMappingError, match="no counterpart"):
        load_torchvision_weights(ours18, extra)
    load_torchvision_weights(ours18, state)  # the clean dict loads


def test_small_resnet_shapes_and_features():
    model = small_resnet(in_channels=1, n_classes=10)
    x = torch.randn(4, 1, 28, 28)
    assert model(x).shape == (4, 10)
    assert model.features(x).shape == (4, model.n_features)


def test_pretrained_resnet34_matches_torchvision_probabilities():
    path = cached_resnet34_weights()
    if path is None:
        pytest.skip(
            f"torchvision's ImageNet ResNet34 weights are not in the hub cache "
            f"({torch.hub.get_dir()}/checkpoints); the random-weights parity test covers the code"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    tv = torchvision.models.resnet34()
    tv.load_state_dict(state)
    ours = load_torchvision_weights(resnet34(), state).eval()
    images, _ = sample_images()
    with torch.no_grad():
        p_ours, p_tv = ours(images).softmax(-1), tv.eval()(images).softmax(-1)
    assert (p_ours - p_tv).abs().max() < 5e-4  # ARENA's stated tolerance
    assert (p_ours.argmax(-1) == p_tv.argmax(-1)).all()
