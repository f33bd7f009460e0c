"""einops image grids and patches vs torchvision.utils.make_grid, F.unfold and manual reshapes."""

import pytest
import torch
import torch.nn.functional as F
from torchvision.utils import make_grid as tv_make_grid

from arena_core.tensors.reshape import make_grid, patchify, unpatchify


# b >= 2: torchvision returns a single image unpadded, a special case we do not copy
@pytest.mark.parametrize(
    "b, nrow, padding", [(16, 4, 0), (10, 4, 0), (7, 8, 2), (2, 3, 1), (9, 3, 3)]
)
def test_make_grid_matches_torchvision(b, nrow, padding):
    images = torch.rand(b, 3, 5, 6)
    ref = tv_make_grid(images, nrow=nrow, padding=padding, pad_value=0.25)
    ours = make_grid(images, nrow=nrow, padding=padding, pad_value=0.25)
    torch.testing.assert_close(ours, ref, rtol=0, atol=0)


def test_make_grid_matches_manual_permute():
    images = torch.rand(12, 1, 4, 4)
    gh, gw = 3, 4
    manual = images.reshape(gh, gw, 1, 4, 4).permute(2, 0, 3, 1, 4).reshape(1, gh * 4, gw * 4)
    torch.testing.assert_close(make_grid(images, nrow=gw), manual, rtol=0, atol=0)


@pytest.mark.parametrize("c, h, w, p", [(1, 8, 8, 4), (3, 6, 9, 3), (2, 4, 4, 1)])
def test_patchify_matches_unfold_and_round_trips(c, h, w, p):
    images = torch.rand(2, c, h, w)
    ref = F.unfold(images, kernel_size=p, stride=p).transpose(1, 2)  # [b, L, c*p*p]
    patches = patchify(images, p)
    torch.testing.assert_close(patches, ref, rtol=0, atol=0)
    torch.testing.assert_close(unpatchify(patches, p, h, c), images, rtol=0, atol=0)
