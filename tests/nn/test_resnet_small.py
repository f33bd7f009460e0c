"""Day 14's small ResNet (3x3 stem, widths 16/32/64) vs the same network built from torch.nn layers.

Its convolutions take the shifted-matmul path (16+ input channels, stride-1 and stride-2 3x3
convs, 1x1 stride-2 shortcuts) and the im2col path (the 3-channel stem), so this checks the two
paths end to end, in train mode, through every layer's backward.
"""

import torch

from arena_core.nn import BatchNorm2d, Conv2d, small_resnet
from arena_core.nn.torch_twin import torch_twin


def test_small_resnet_train_step_matches_torch_twin_in_float64():
    torch.manual_seed(0)
    ours = small_resnet(in_channels=3, n_classes=10)
    ref = torch_twin(ours).double().train()
    ours = ours.double().train()
    assert not any(isinstance(m, (Conv2d, BatchNorm2d)) for m in ref.modules())
    x = torch.randn(6, 3, 20, 18, dtype=torch.float64)  # odd sizes: stride-2 phases differ
    y_ours = ours(x)
    # the twin is still our ResNet class around torch.nn layers: run its stages directly
    y_ref = ref.out_layers(ref.residual_layers(ref.in_layers(x)))
    torch.testing.assert_close(y_ours, y_ref)
    y_ours.square().sum().backward()
    y_ref.square().sum().backward()
    ref_params = dict(ref.named_parameters())
    for name, p in ours.named_parameters():
        # float64 through ~10 layers: agreement to ~1e-12 relative; assert_close's default
        # float64 tolerance (1e-7) leaves room for summation-order differences only
        torch.testing.assert_close(p.grad, ref_params[name].grad, msg=name)
    for (name, a), (_, b) in zip(ours.named_buffers(), ref.named_buffers()):
        torch.testing.assert_close(a, b, msg=name)
