"""ConvTranspose2d vs torch.nn.functional.conv_transpose2d (forward + backward) and gradcheck."""

import pytest
import torch
import torch.nn.functional as F

from arena_core.nn import ConvTranspose2d, conv_transpose2d


def _random_case(gen: torch.Generator):
    def r(lo, hi):
        return int(torch.randint(lo, hi + 1, (1,), generator=gen))

    kh, kw = r(1, 5), r(1, 5)
    sh, sw = r(1, 3), r(1, 3)
    ph, pw = r(0, kh - 1), r(0, kw - 1)
    oph, opw = r(0, sh - 1), r(0, sw - 1)
    b, c, o, h, w = r(1, 3), r(1, 4), r(1, 4), r(1, 7), r(1, 7)
    return (b, c, o, h, w), (kh, kw), (sh, sw), (ph, pw), (oph, opw)


@pytest.mark.parametrize("case", range(25))
def test_matches_torch_forward_and_backward(case):
    gen = torch.Generator().manual_seed(case)
    (b, c, o, h, w), k, s, p, op = _random_case(gen)
    # outputs that padding crops to nothing are invalid for torch too; skip those draws
    if (h - 1) * s[0] - 2 * p[0] + k[0] + op[0] < 1 or (w - 1) * s[1] - 2 * p[1] + k[1] + op[1] < 1:
        return
    x = torch.randn(b, c, h, w, dtype=torch.float64, generator=gen, requires_grad=True)
    weight = torch.randn(c, o, *k, dtype=torch.float64, generator=gen, requires_grad=True)
    bias = torch.randn(o, dtype=torch.float64, generator=gen, requires_grad=True)
    ours = conv_transpose2d(x, weight, bias, s, p, op)
    ref = F.conv_transpose2d(x, weight, bias, s, p, op)
    assert ours.shape == ref.shape
    # float64 sums of at most a few hundred products: agreement to ~1e-12
    torch.testing.assert_close(ours, ref, rtol=1e-10, atol=1e-10)
    g = torch.randn_like(ref)
    grads = torch.autograd.grad(ours, (x, weight, bias), g)
    ref_grads = torch.autograd.grad(ref, (x, weight, bias), g)
    for a, e in zip(grads, ref_grads, strict=True):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10)


def test_gradcheck_strided_padded():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64, generator=gen, requires_grad=True)
    weight = torch.randn(3, 2, 3, 4, dtype=torch.float64, generator=gen, requires_grad=True)
    bias = torch.randn(2, dtype=torch.float64, generator=gen, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda a, wt, bs: conv_transpose2d(a, wt, bs, (2, 3), (1, 2), (1, 2)), (x, weight, bias)
    )


def test_module_matches_torch_module_with_copied_weights():
    ours = ConvTranspose2d(5, 3, 4, stride=2, padding=1).double()
    ref = torch.nn.ConvTranspose2d(5, 3, 4, stride=2, padding=1).double()
    assert ours.weight.shape == ref.weight.shape
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(2, 5, 7, 7, dtype=torch.float64)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-10, atol=1e-10)
    assert ours(x).shape == (2, 3, 14, 14)


def test_init_bound_matches_torch_fan_in():
    # torch's fan_in for a transposed conv weight [in, out, kh, kw] is out * kh * kw
    layer = ConvTranspose2d(8, 4, 3)
    bound = 1 / (4 * 9) ** 0.5
    assert layer.weight.abs().max() <= bound and layer.weight.abs().max() > 0.8 * bound


def test_bad_output_padding_raises():
    x = torch.randn(1, 2, 3, 3)
    with pytest.raises(ValueError):
        conv_transpose2d(x, torch.randn(2, 2, 3, 3), stride=2, output_padding=2)


def test_unbatched_input_matches_torch():
    # torch takes one image (C, H, W) as a batch of one and returns (O, H_out, W_out)
    ours = ConvTranspose2d(3, 2, (3, 2), stride=2, padding=1, output_padding=1).double()
    ref = torch.nn.ConvTranspose2d(3, 2, (3, 2), stride=2, padding=1, output_padding=1).double()
    ref.load_state_dict(ours.state_dict())
    x = torch.randn(3, 4, 5, dtype=torch.float64, requires_grad=True)
    y_ours, y_ref = ours(x), ref(x)
    assert y_ours.shape == y_ref.shape == (2, 8, 9)
    torch.testing.assert_close(y_ours, y_ref, rtol=1e-10, atol=1e-10)
    g = torch.randn_like(y_ref)
    for a, e in zip(
        torch.autograd.grad(y_ours, (x, ours.weight, ours.bias), g),
        torch.autograd.grad(y_ref, (x, ref.weight, ref.bias), g),
        strict=True,
    ):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(
        conv_transpose2d(x, ours.weight, ours.bias, 2, 1, 1),
        F.conv_transpose2d(x, ref.weight, ref.bias, 2, 1, 1),
        rtol=1e-10,
        atol=1e-10,
    )
