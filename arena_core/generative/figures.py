"""Figures shared by days 25-27: image grids, 2-D latent scatter plots, data loading, titles.

Everything returns a `matplotlib.figure.Figure` (no pyplot state), for `Run.save_fig`.
"""

from collections.abc import Callable

import torch
from jaxtyping import Float
from matplotlib.figure import Figure
from torch import Tensor

from arena_core.data import DataUnavailableError, ImageDataset, load_fashion_mnist, load_mnist
from arena_core.data.sources import log_fallback

#: How figure titles name the data sources (the keys are the names the scripts use).
SOURCE_LABELS = {"mnist": "MNIST", "fashion_mnist": "Fashion-MNIST"}


def source_label(name: str) -> str:
    """'fashion_mnist' -> 'Fashion-MNIST': a human name for a figure title."""
    return SOURCE_LABELS.get(name, name.replace("_", " "))


def load_sources(
    names: tuple[str, ...],
    n_train: int,
    n_test: int,
    record: Callable[[str, str], None] | None = None,
) -> dict[str, tuple[ImageDataset, ImageDataset]]:
    """name -> (train, test) class-balanced subsets of each of `names` that loads.

    An unavailable source is skipped: one log line, and `record(f"data_{name}", why)` (pass
    `run.record_source`) so that metrics.json says the run went on without it.
    """
    loaders = {"mnist": load_mnist, "fashion_mnist": load_fashion_mnist}
    out = {}
    for name in names:
        try:
            train, test = loaders[name]("train"), loaders[name]("test")
        except DataUnavailableError as err:
            log_fallback(f"{name} unavailable, the run goes on without it: {err}")
            if record is not None:
                record(f"data_{name}", f"unavailable, skipped: {err}")
            continue
        out[name] = (train.take(n_train), test.take(n_test))
    if not out:
        raise DataUnavailableError(f"none of {names} could be loaded")
    return out


def image_grid(
    images: Float[Tensor, "n c h w"], nrow: int, title: str = "", ax=None, size: float = 0.55
) -> Figure | None:
    """Tile images (values in [0, 1]) into one picture, `nrow` images per row."""
    n, c, h, w = images.shape
    rows = (n + nrow - 1) // nrow
    canvas = torch.ones(c, rows * (h + 1) + 1, nrow * (w + 1) + 1)
    for k in range(n):
        i, j = divmod(k, nrow)
        canvas[:, 1 + i * (h + 1) : 1 + i * (h + 1) + h, 1 + j * (w + 1) : 1 + j * (w + 1) + w] = (
            images[k].detach().cpu().clamp(0, 1)
        )
    fig = None
    if ax is None:
        fig = Figure(figsize=(size * nrow, size * rows + (0.4 if title else 0)), dpi=120)
        ax = fig.subplots()
    picture = canvas[0] if c == 1 else canvas.permute(1, 2, 0)
    ax.imshow(picture.numpy(), cmap="gray_r" if c == 1 else None, vmin=0, vmax=1)
    ax.set_xticks([]), ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=10.5)
    if fig is not None:
        fig.tight_layout()
    return fig


def latent_scatter(
    z: Float[Tensor, "n 2"], labels: Tensor, classes: tuple[str, ...], title: str, ax
) -> None:
    """2-D latent codes coloured by class, with the full class names on the colour bar."""
    sc = ax.scatter(z[:, 0].numpy(), z[:, 1].numpy(), c=labels.numpy(), cmap="tab10", s=3,
                    alpha=0.7, vmin=-0.5, vmax=9.5)  # fmt: skip
    ax.set_title(title)
    ax.set_xlabel("$z_1$"), ax.set_ylabel("$z_2$")
    cbar = ax.figure.colorbar(sc, ax=ax, ticks=range(len(classes)), fraction=0.046)
    cbar.ax.set_yticklabels([str(c) for c in classes], fontsize=8.5)
