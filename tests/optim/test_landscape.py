"""Filter normalisation against a direct per-filter computation, and the landscape slices
against direct evaluation with `torch.func.functional_call` at the same points."""

import numpy as np
import torch
from torch import nn

from arena_core.optim.landscape import (
    filter_normalize,
    interpolate_1d,
    random_direction,
    snapshot,
    surface_2d,
)


def test_filter_normalize_matches_direct_computation():
    g = torch.Generator().manual_seed(0)
    shapes = [(8, 3, 3, 3), (5, 7), (1, 4), (5,), (3, 2, 5)]
    params = [torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]
    raw = [torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]
    out = filter_normalize(raw, params)
    for d, r, p in zip(out, raw, params):
        d, r, p = d.numpy(), r.numpy(), p.numpy()
        if p.ndim == 1:
            assert not d.any()
            continue
        for i in range(p.shape[0]):  # one filter at a time, with numpy
            expected = r[i] * np.linalg.norm(p[i].ravel()) / np.linalg.norm(r[i].ravel())
            # rtol 1e-9: ours adds eps=1e-10 to ||r_i|| (~3) against zero filters, ~3e-11 relative
            np.testing.assert_allclose(d[i], expected, rtol=1e-9, atol=0)
    keep = filter_normalize(raw, params, ignore_1d=False)[3].numpy()
    np.testing.assert_allclose(np.linalg.norm(keep), np.linalg.norm(params[3].numpy()), rtol=1e-9)


def loss_of(model, x, y):
    return lambda m: nn.functional.cross_entropy(m(x), y).item()


def test_slices_match_functional_call_and_restore_the_model():
    model = nn.Sequential(nn.Linear(6, 9), nn.ReLU(), nn.Linear(9, 3)).double()
    x = torch.randn(20, 6, dtype=torch.float64)
    y = torch.randint(0, 3, (20,))
    names = [n for n, _ in model.named_parameters()]
    center = snapshot(model)
    g = torch.Generator().manual_seed(1)
    d1, d2 = random_direction(center, g), random_direction(center, g)
    xs = torch.linspace(-1, 1, 5, dtype=torch.float64)
    ys = torch.linspace(-0.5, 0.5, 3, dtype=torch.float64)
    grid = surface_2d(model, loss_of(model, x, y), center, d1, d2, xs, ys)
    assert grid.shape == (3, 5)
    for i, b in enumerate(ys.tolist()):
        for j, a in enumerate(xs.tolist()):
            point = {n: c + a * u + b * v for n, c, u, v in zip(names, center, d1, d2)}
            expected = nn.functional.cross_entropy(torch.func.functional_call(model, point, x), y)
            assert abs(grid[i, j].item() - expected.item()) < 1e-12  # same float64 ops
    for p, c in zip(model.parameters(), center):
        assert torch.equal(p.detach(), c)

    start = [torch.zeros_like(c) for c in center]
    alphas = torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64)
    line = interpolate_1d(model, loss_of(model, x, y), start, center, alphas)
    half = {n: 0.5 * c for n, c in zip(names, center)}
    expected = nn.functional.cross_entropy(torch.func.functional_call(model, half, x), y).item()
    assert abs(line[1].item() - expected) < 1e-12
    assert abs(line[0].item() - np.log(3)) < 1e-12  # all-zero weights: uniform prediction
    assert abs(line[2].item() - grid[1, 2].item()) < 1e-12  # the centre of the grid
