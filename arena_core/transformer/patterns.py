"""Looking at attention patterns (days 29–31): per-head scores and figures.

Scores are averages of a pattern `[batch heads q k]` along a diagonal (Olsson et al. 2022,
"In-context learning and induction heads"):
- previous-token score: mean attention from position i to i - 1;
- induction score on a sequence that repeats a random block of length L: mean attention from
  position i (in the second copy) to i - L + 1, the token *after* the earlier occurrence;
- first-token score: mean attention to position 0 (the "attention sink");
- current-token score: mean attention from position i to itself (query 0 excluded: it can only
  attend to itself).
"""

import torch
from jaxtyping import Float
from matplotlib.figure import Figure
from torch import Tensor


def diagonal_score(
    pattern: Float[Tensor, "batch heads q k"], offset: int, start: int = 0
) -> Tensor:
    """Mean of pattern[..., i, i - offset] over queries i >= max(start, offset): `[heads]`."""
    q = pattern.shape[-2]
    rows = torch.arange(max(start, offset), q, device=pattern.device)
    return pattern[..., rows, rows - offset].mean(dim=(0, -1))


def prev_token_scores(pattern: Float[Tensor, "batch heads q k"]) -> Tensor:
    return diagonal_score(pattern, offset=1, start=1)


def induction_scores(pattern: Float[Tensor, "batch heads q k"], block: int) -> Tensor:
    """For tokens [x, r_1..r_L, r_1..r_L] (x optional): attention from the second copy to the
    position after the first occurrence, i.e. offset L - 1, queries in the second copy."""
    return diagonal_score(pattern, offset=block - 1, start=pattern.shape[-2] - block)


def current_token_scores(pattern: Float[Tensor, "batch heads q k"]) -> Tensor:
    return diagonal_score(pattern, offset=0, start=1)


def first_token_scores(pattern: Float[Tensor, "batch heads q k"]) -> Tensor:
    return pattern[..., 1:, 0].mean(dim=(0, -1))


def plot_patterns(
    patterns: Float[Tensor, "heads q k"], labels: list[str], titles: list[str], title: str = ""
) -> Figure:
    """A row of heatmaps, one per pattern, queries down and keys across, tokens as tick labels."""
    cols = min(len(titles), 3)
    rows = (len(titles) + cols - 1) // cols
    size = 0.16 * len(labels) + 1.5
    fig = Figure(figsize=(cols * size, rows * size + 0.4))
    for i, name in enumerate(titles):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.imshow(patterns[i].float().cpu(), cmap="Blues", vmin=0, vmax=1)
        ax.set_title(name, fontsize=9)
        ticks = range(len(labels))
        ax.set_xticks(ticks, labels, rotation=90, fontsize=6)
        ax.set_yticks(ticks, labels, fontsize=6)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_head_scores(
    scores: dict[str, Float[Tensor, "layers heads"]],
    title: str,
    colorbar_label: str = "score",
    ytick_step: int | None = None,
) -> Figure:
    """One heatmap per score (layers down, heads across), on one 0-1 scale with one colour bar."""
    fig = Figure(figsize=(3.2 * len(scores) + 1, 4.6))
    axes = fig.subplots(1, len(scores), sharey=True, squeeze=False)[0]
    for ax, (name, s) in zip(axes, scores.items(), strict=True):
        im = ax.imshow(s.float().cpu(), cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_title(name)
        ax.set_xticks(range(s.shape[1]))
        ax.set_xlabel("head")
        ax.grid(False)
        if ytick_step:
            ax.set_yticks(range(0, s.shape[0], ytick_step))
    axes[0].set_ylabel("layer")
    fig.colorbar(im, ax=list(axes), fraction=0.03, label=colorbar_label)
    fig.suptitle(title)
    return fig
