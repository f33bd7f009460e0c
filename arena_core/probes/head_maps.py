"""Layer × head maps of a signed effect (days 42–43): patching recovery, causal indirect effect.

A diverging colour map centred on zero (blue = the patch hurts, red = it helps) with the scale
symmetric around zero, so "no effect" is always white; optional markers outline chosen heads
(e.g. the top-k heads that make a function vector).
"""

from collections.abc import Sequence

from jaxtyping import Float
from matplotlib.axes import Axes
from matplotlib.patches import Rectangle
from torch import Tensor


def plot_head_map(
    ax: Axes,
    values: Float[Tensor, "layer head"],
    title: str,
    colorbar_label: str,
    marked: Sequence[tuple[int, int]] = (),
    ytick_step: int = 2,
):
    """Draw `values` (layers down, heads across) on `ax`; returns the image for a colour bar."""
    v = values.detach().double().cpu()
    lim = max(v.abs().max().item(), 1e-9)
    im = ax.imshow(v, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto", interpolation="nearest")
    for L, h in marked:
        ax.add_patch(Rectangle((h - 0.5, L - 0.5), 1, 1, fill=False, edgecolor="black", lw=1.6))
    ax.set_xticks(range(v.shape[1]))
    ax.set_yticks(range(0, v.shape[0], ytick_step))
    ax.set_xlabel("head")
    ax.set_ylabel("layer")
    ax.set_title(title)
    ax.grid(False)
    ax.figure.colorbar(im, ax=ax, fraction=0.05, label=colorbar_label)
    return im


def rank_agreement(a: Float[Tensor, "layer head"], b: Float[Tensor, "layer head"], k: int) -> dict:
    """How two head maps agree: Spearman rank correlation over all heads and top-k overlap."""
    x, y = a.flatten().double(), b.flatten().double()
    rx = x.argsort().argsort().double()
    ry = y.argsort().argsort().double()
    rx, ry = rx - rx.mean(), ry - ry.mean()
    rho = (rx @ ry / (rx.norm() * ry.norm())).item()
    top_a, top_b = set(x.topk(k).indices.tolist()), set(y.topk(k).indices.tolist())
    return {"spearman": rho, "top_k_overlap": len(top_a & top_b), "k": k}
