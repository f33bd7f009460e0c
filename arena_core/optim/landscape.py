"""Loss landscapes: 1-D interpolation and 2-D slices along filter-normalised random directions.

Day 19. A network's loss lives in millions of dimensions; we look at low-dimensional slices
through a trained point θ*:

- 1-D linear interpolation (Goodfellow, Vinyals & Saxe 2015): L((1 − α) θ_0 + α θ*) from the
  initialisation θ_0 (α = 0) to the solution (α = 1) and beyond.
- 2-D surface (Li, Xu, Taylor, Studer & Goldstein 2018): L(θ* + a δ + b η) for random Gaussian
  directions δ, η. Raw random directions are misleading because networks with ReLU are invariant to
  rescaling a filter; a "sharp" minimum can be made flat by scaling weights up. Li et al. therefore
  normalise every filter of the direction to the norm of the corresponding filter of θ*:

      δ_{i,j} ← δ_{i,j} · ‖θ_{i,j}‖ / ‖δ_{i,j}‖     (filter j of layer i = one output row/channel)

  and set the direction to 0 on biases and other 1-D parameters ("ignore biasbn").
"""

from collections.abc import Callable, Sequence

import torch
from jaxtyping import Float
from torch import Tensor, nn


def snapshot(model: nn.Module) -> list[Tensor]:
    """A detached copy of the model's parameters (in `model.parameters()` order)."""
    return [p.detach().clone() for p in model.parameters()]


def filter_normalize(
    direction: Sequence[Tensor],
    params: Sequence[Tensor],
    ignore_1d: bool = True,
    eps: float = 1e-10,
) -> list[Tensor]:
    """Rescale each filter (slice along dim 0) of `direction` to the norm of that filter in
    `params`; 1-D tensors (biases, norms) become 0 (or, with `ignore_1d=False`, get the norm of
    the whole parameter)."""
    out = []
    for d, p in zip(direction, params, strict=True):
        if d.shape != p.shape:
            raise ValueError(
                f"direction shape {tuple(d.shape)} != parameter shape {tuple(p.shape)}"
            )
        if p.dim() <= 1:
            out.append(torch.zeros_like(d) if ignore_1d else d * p.norm() / (d.norm() + eps))
            continue
        d_norm = d.flatten(1).norm(dim=1)
        p_norm = p.flatten(1).norm(dim=1)
        scale = (p_norm / (d_norm + eps)).view(-1, *[1] * (d.dim() - 1))
        out.append(d * scale)
    return out


def random_direction(
    params: Sequence[Tensor], generator: torch.Generator | None = None, ignore_1d: bool = True
) -> list[Tensor]:
    """A Gaussian random direction, filter-normalised against `params`."""
    raw = [torch.randn(p.shape, generator=generator, dtype=p.dtype).to(p.device) for p in params]
    return filter_normalize(raw, params, ignore_1d)


@torch.no_grad()
def _evaluate_at(model: nn.Module, point: Sequence[Tensor], loss_fn: Callable[[nn.Module], float]):
    for p, value in zip(model.parameters(), point, strict=True):
        p.copy_(value)
    return loss_fn(model)


def interpolate_1d(
    model: nn.Module,
    loss_fn: Callable[[nn.Module], float],
    start: Sequence[Tensor],
    end: Sequence[Tensor],
    alphas: Float[Tensor, " n"],
) -> Float[Tensor, " n"]:
    """L((1 − α) start + α end) for each α; the model's parameters are restored afterwards."""
    saved = snapshot(model)
    try:
        losses = [
            _evaluate_at(model, [s + a * (e - s) for s, e in zip(start, end, strict=True)], loss_fn)
            for a in alphas.tolist()
        ]
    finally:
        _evaluate_at(model, saved, lambda m: 0.0)
    return torch.tensor(losses, dtype=torch.float64)


def surface_2d(
    model: nn.Module,
    loss_fn: Callable[[nn.Module], float],
    center: Sequence[Tensor],
    d1: Sequence[Tensor],
    d2: Sequence[Tensor],
    xs: Float[Tensor, " nx"],
    ys: Float[Tensor, " ny"],
) -> Float[Tensor, "ny nx"]:
    """L(center + x d1 + y d2) on the grid (row = y, column = x, as `contour` expects)."""
    saved = snapshot(model)
    try:
        rows = []
        for y in ys.tolist():
            row = []
            for x in xs.tolist():
                point = [c + x * a + y * b for c, a, b in zip(center, d1, d2, strict=True)]
                row.append(_evaluate_at(model, point, loss_fn))
            rows.append(row)
    finally:
        _evaluate_at(model, saved, lambda m: 0.0)
    return torch.tensor(rows, dtype=torch.float64)
