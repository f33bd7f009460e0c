"""Gather / integer-array / mask helpers vs plain advanced indexing, F.one_hot and Python loops."""

import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from arena_core.tensors.indexing import (
    batched_index_select,
    gather_last,
    index_pairs,
    masked_fill_value,
    masked_mean,
    one_hot,
    topk_mask,
)


@settings(max_examples=20, deadline=None)
@given(b=st.integers(1, 4), t=st.integers(1, 5), n=st.integers(1, 9))
def test_gather_last_matches_advanced_indexing(b, t, n):
    x = torch.randn(b, t, n)
    idx = torch.randint(0, n, (b, t))
    ref = x[torch.arange(b)[:, None], torch.arange(t)[None, :], idx]
    torch.testing.assert_close(gather_last(x, idx), ref, rtol=0, atol=0)


def test_gather_last_picks_target_logprobs_like_cross_entropy(device):
    logits = torch.randn(8, 11, dtype=torch.float64, device=device)
    targets = torch.randint(0, 11, (8,), device=device)
    picked = gather_last(torch.log_softmax(logits, -1), targets)
    ref = -F.cross_entropy(logits, targets, reduction="none")
    torch.testing.assert_close(picked, ref)


@settings(max_examples=15, deadline=None)
@given(b=st.integers(1, 3), n=st.integers(1, 6), k=st.integers(1, 5), d=st.integers(1, 4))
def test_batched_index_select_matches_loop(b, n, k, d):
    x = torch.randn(b, n, d)
    idx = torch.randint(0, n, (b, k))
    ref = torch.stack([x[i, idx[i]] for i in range(b)])
    torch.testing.assert_close(batched_index_select(x, idx), ref, rtol=0, atol=0)


def test_index_pairs_is_pairs_not_grid():
    x = torch.arange(20.0).reshape(4, 5)
    rows, cols = torch.tensor([0, 3, 2, 3]), torch.tensor([4, 0, 2, 0])
    torch.testing.assert_close(index_pairs(x, rows, cols), x[rows, cols])
    assert x[rows][:, cols].shape == (4, 4)  # the grid, which index_pairs is not


@settings(max_examples=15, deadline=None)
@given(shape=st.lists(st.integers(0, 4), min_size=1, max_size=3), n=st.integers(1, 7))
def test_one_hot_matches_torch(shape, n):
    idx = torch.randint(0, n, shape)
    torch.testing.assert_close(one_hot(idx, n), F.one_hot(idx, n).float())


def test_topk_mask_keeps_k_largest():
    x = torch.randn(6, 10, dtype=torch.float64)  # continuous values: no ties
    for k in (0, 1, 3, 10):
        mask = topk_mask(x, k)
        assert (mask.sum(-1) == k).all()
        ref = x >= torch.sort(x, -1, descending=True).values[:, k - 1 : k] if k else x < -1e300
        assert torch.equal(mask, ref)


def test_masked_fill_and_mean_vs_numpy():
    import numpy as np

    x = torch.randn(5, 7, dtype=torch.float64)
    mask = torch.rand(5, 7) < 0.5
    mask[0] = False  # an empty row: mean is undefined -> NaN
    torch.testing.assert_close(masked_fill_value(x, mask, -1e9), x.masked_fill(mask, -1e9))
    ref = np.ma.masked_array(x.numpy(), mask=~mask.numpy()).mean(axis=-1)
    ours = masked_mean(x, mask)
    assert torch.isnan(ours[0])
    np.testing.assert_allclose(ours[1:].numpy(), ref[1:].filled(np.nan), rtol=1e-12)
