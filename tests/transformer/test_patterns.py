"""Head scores on hand-built patterns whose answer is known by construction (numpy reference)."""

import numpy as np
import torch

from arena_core.transformer.patterns import (
    first_token_scores,
    induction_scores,
    plot_head_scores,
    plot_patterns,
    prev_token_scores,
)


def test_scores_on_constructed_patterns():
    n, block = 11, 5  # tokens: [x, r1..r5, r1..r5]
    prev = np.zeros((n, n))
    prev[0, 0] = 1
    prev[np.arange(1, n), np.arange(0, n - 1)] = 1
    induct = np.zeros((n, n))
    induct[:, 0] = 1
    for i in range(n - block, n):  # second copy attends to the token after the first occurrence
        induct[i] = 0
        induct[i, i - block + 1] = 1
    sink = np.zeros((n, n))
    sink[:, 0] = 1
    pattern = torch.tensor(np.stack([prev, induct, sink]))[None]  # [1 heads q k]
    stack = np.stack([prev, induct, sink])
    rows = np.arange(1, n)
    # numpy references written from the definitions, plus the by-construction values
    expected_prev = torch.tensor(stack[:, rows, rows - 1].mean(-1))
    q = np.arange(n - block, n)
    expected_induction = torch.tensor(stack[:, q, q - block + 1].mean(-1))
    expected_sink = torch.tensor(stack[:, 1:, 0].mean(-1))
    torch.testing.assert_close(prev_token_scores(pattern), expected_prev)
    torch.testing.assert_close(induction_scores(pattern, block), expected_induction)
    torch.testing.assert_close(first_token_scores(pattern), expected_sink)
    assert expected_prev[0] == 1 and expected_induction[1] == 1 and expected_sink[2] == 1


def test_plots_build():
    p = torch.rand(3, 6, 6).softmax(-1)
    fig = plot_patterns(p, list("abcdef"), ["x", "y", "z"])
    assert len(fig.axes) == 3
    fig = plot_head_scores({"a": torch.rand(4, 3), "b": torch.rand(4, 3)}, "t", "mean weight")
    assert len(fig.axes) == 3  # two heatmaps + one shared colour bar
    assert fig.axes[-1].get_ylabel() == "mean weight"
