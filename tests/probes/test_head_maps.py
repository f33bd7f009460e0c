"""Head-map helpers: the rank agreement against scipy's Spearman correlation, top-k overlap on a
hand-made case, and the plot's symmetric colour scale."""

import torch
from matplotlib.figure import Figure
from scipy.stats import spearmanr

from arena_core.probes.head_maps import plot_head_map, rank_agreement


def test_rank_agreement_matches_scipy():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(6, 4, generator=g)
    b = a + 0.8 * torch.randn(6, 4, generator=g)
    got = rank_agreement(a, b, k=5)
    assert abs(got["spearman"] - spearmanr(a.flatten(), b.flatten()).statistic) < 1e-12
    assert rank_agreement(a, a, 5) == {"spearman": 1.0, "top_k_overlap": 5, "k": 5}
    assert abs(rank_agreement(a, -a, 3)["spearman"] + 1) < 1e-12


def test_top_k_overlap_by_hand():
    a = torch.tensor([[4.0, 3.0], [2.0, 1.0]])
    b = torch.tensor([[4.0, 1.0], [2.0, 3.0]])  # top 2: a -> (0,0), (0,1); b -> (0,0), (1,1)
    assert rank_agreement(a, b, 2)["top_k_overlap"] == 1


def test_plot_head_map_is_centred_on_zero():
    fig = Figure()
    ax = fig.add_subplot(1, 1, 1)
    im = plot_head_map(ax, torch.tensor([[0.1, -0.4], [0.2, 0.0]]), "t", "effect", [(0, 1)])
    lo, hi = im.get_clim()
    assert abs(lo + 0.4) < 1e-6 and abs(hi - 0.4) < 1e-6
    assert len(ax.patches) == 1
