"""Pathological 2-D test surfaces and optimizer trajectories on them (days 15-16).

- Rosenbrock (1960): f(x, y) = (a − x)² + b (y − x²)², minimum 0 at (a, a²) at the bottom
  of a long, curved, flat-floored valley. Gradient descent finds the valley at once, then
  crawls along it.
- Ravine: an ill-conditioned quadratic f(x, y) = (x² + κ y²) / 2 with condition number κ. Plain
  gradient descent must use η < 2/κ to stay stable in y, and then moves along x at rate ~η, so it
  needs ~κ steps; momentum damps the zig-zag across the ravine and builds up speed along it.

`trajectory` runs any optimizer (ours or torch's) on such a function from a start point and returns
the path, the input to the contour-and-path figures.
"""

import math
from collections.abc import Callable

import torch
from jaxtyping import Float
from torch import Tensor


def rosenbrock(
    xy: Float[Tensor, "... 2"], a: float = 1.0, b: float = 100.0
) -> Float[Tensor, "..."]:
    x, y = xy[..., 0], xy[..., 1]
    return (a - x) ** 2 + b * (y - x**2) ** 2


def ravine(xy: Float[Tensor, "... 2"], kappa: float = 50.0) -> Float[Tensor, "..."]:
    x, y = xy[..., 0], xy[..., 1]
    return (x**2 + kappa * y**2) / 2


def rotated_ravine(
    xy: Float[Tensor, "... 2"], kappa: float = 50.0, angle: float = math.pi / 4
) -> Float[Tensor, "..."]:
    """The ravine turned by `angle`: its steep direction no longer lies along a coordinate axis,
    so per-coordinate step sizes (RMSprop, Adam) can no longer undo the ill-conditioning."""
    c, s = math.cos(angle), math.sin(angle)
    x, y = xy[..., 0], xy[..., 1]
    return ravine(torch.stack([c * x + s * y, -s * x + c * y], dim=-1), kappa)


def trajectory(
    fn: Callable[[Tensor], Tensor],
    make_optimizer: Callable[[list[Tensor]], object],
    start: tuple[float | int, float | int],
    steps: int,
) -> Float[Tensor, "steps_plus_one 2"]:
    """Positions (start included) of `steps` optimizer steps on `fn`, in float64."""
    xy = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer([xy])
    path = [xy.detach().clone()]
    for _ in range(steps):
        optimizer.zero_grad()
        fn(xy).backward()
        optimizer.step()
        path.append(xy.detach().clone())
    return torch.stack(path)


def plot_paths(
    ax,
    fn: Callable[[Tensor], Tensor],
    paths: dict[str, Tensor],
    xlim: tuple[float | int, float | int],
    ylim: tuple[float | int, float | int],
    minimum: tuple[float | int, float | int] | None = None,
    log_levels: bool = True,
) -> None:
    """Contours of `fn` on `ax` with each optimizer's path drawn over them."""
    import numpy as np

    xs = torch.linspace(*xlim, 300, dtype=torch.float64)
    ys = torch.linspace(*ylim, 300, dtype=torch.float64)
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), dim=-1)
    z = fn(grid).numpy()
    levels = np.geomspace(max(z.min(), 1e-3), z.max(), 25) if log_levels else 25
    ax.contour(xs.numpy(), ys.numpy(), z, levels=levels, cmap="Greys", linewidths=0.6)
    for (name, path), color in zip(
        paths.items(), [f"C{i}" for i in range(len(paths))], strict=True
    ):
        p = path.numpy()
        ax.plot(p[:, 0], p[:, 1], "-", color=color, lw=1.2, label=name, alpha=0.9)
        ax.plot(p[-1, 0], p[-1, 1], "o", color=color, ms=4)
    if minimum is not None:
        ax.plot(*minimum, "*", color="k", ms=10, label="minimum")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
