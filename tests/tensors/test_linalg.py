"""einsum products, cosine similarity, normalisation, PCA, least squares vs torch/numpy/sklearn."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from arena_core.tensors.linalg import (
    batched_mm,
    batched_mv,
    cosine_similarity_matrix,
    inner,
    lstsq_normal,
    lstsq_qr,
    mm,
    mv,
    normalize,
    outer,
    pca,
    standardize,
    trace,
)

# float64 everywhere below: sums of <= ~100 products agree with torch's kernels to ~1e-14.
F64 = dict(rtol=1e-10, atol=1e-12)


@settings(max_examples=15, deadline=None)
@given(m=st.integers(1, 6), k=st.integers(1, 6), n=st.integers(1, 6), b=st.integers(1, 3))
def test_einsum_products_match_torch(m, k, n, b):
    a = torch.randn(m, k, dtype=torch.float64)
    c = torch.randn(k, n, dtype=torch.float64)
    v = torch.randn(k, dtype=torch.float64)
    sq = torch.randn(m, m, dtype=torch.float64)
    torch.testing.assert_close(trace(sq), torch.trace(sq), **F64)
    torch.testing.assert_close(mv(a, v), a @ v, **F64)
    torch.testing.assert_close(mm(a, c), a @ c, **F64)
    torch.testing.assert_close(inner(v, v), torch.dot(v, v), **F64)
    torch.testing.assert_close(outer(v, c[0]), torch.outer(v, c[0]), **F64)
    ba, bc = torch.randn(b, m, k, dtype=torch.float64), torch.randn(b, k, n, dtype=torch.float64)
    torch.testing.assert_close(batched_mm(ba, bc), torch.bmm(ba, bc), **F64)
    bv = torch.randn(b, k, dtype=torch.float64)
    torch.testing.assert_close(batched_mv(ba, bv), (ba @ bv[..., None])[..., 0], **F64)


def test_cosine_similarity_matrix_vs_torch(device):
    a = torch.randn(7, 5, dtype=torch.float64, device=device)
    b = torch.randn(4, 5, dtype=torch.float64, device=device)
    a[2] = 0  # a zero row: similarity 0 (torch clamps the norms by eps too), never NaN
    ref = F.cosine_similarity(a[:, None, :], b[None, :, :], dim=-1)
    ours = cosine_similarity_matrix(a, b)
    torch.testing.assert_close(ours, ref, **F64)
    assert (ours[2] == 0).all()


def test_normalize_and_standardize_vs_references():
    from sklearn.preprocessing import StandardScaler

    x = torch.randn(9, 4, dtype=torch.float64) * 3 + 1
    x[:, 2] = 5.0  # a constant column: sklearn leaves it at 0 too
    torch.testing.assert_close(normalize(x), F.normalize(x, dim=-1), **F64)
    torch.testing.assert_close(normalize(x, dim=0), F.normalize(x, dim=0), **F64)
    z, mean, std = standardize(x)
    ref = StandardScaler().fit_transform(x.numpy())
    np.testing.assert_allclose(z.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_pca_matches_sklearn():
    from sklearn.decomposition import PCA

    gen = np.random.default_rng(0)
    x = gen.normal(size=(60, 6)) @ gen.normal(size=(6, 6)) + 2.0
    k = 3
    ours = pca(torch.from_numpy(x), k)
    ref = PCA(n_components=k, svd_solver="full").fit(x)
    np.testing.assert_allclose(ours.explained_variance.numpy(), ref.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(
        ours.explained_variance_ratio.numpy(), ref.explained_variance_ratio_, rtol=1e-9
    )
    # components are defined up to sign: align ours to sklearn's before comparing
    signs = np.sign((ours.components.numpy() * ref.components_).sum(1, keepdims=True))
    np.testing.assert_allclose(ours.components.numpy() * signs, ref.components_, atol=1e-9)
    np.testing.assert_allclose(
        ours.projection.numpy() * signs.T, ref.transform(x), rtol=1e-9, atol=1e-9
    )
    with pytest.raises(ValueError):
        pca(torch.from_numpy(x), 0)


@pytest.mark.parametrize("n, d", [(20, 3), (50, 7), (5, 5)])
def test_least_squares_matches_torch_and_numpy(n, d):
    a = torch.randn(n, d, dtype=torch.float64)
    b = torch.randn(n, dtype=torch.float64)
    ref = torch.linalg.lstsq(a, b[:, None]).solution[:, 0]
    ref_np = np.linalg.lstsq(a.numpy(), b.numpy(), rcond=None)[0]
    # well-conditioned random a: both methods agree with the references to ~1e-12
    torch.testing.assert_close(lstsq_qr(a, b), ref, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(lstsq_normal(a, b), ref, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(lstsq_qr(a, b).numpy(), ref_np, rtol=1e-9, atol=1e-10)
    bm = torch.randn(n, 2, dtype=torch.float64)  # several right-hand sides at once
    torch.testing.assert_close(lstsq_qr(a, bm), torch.linalg.lstsq(a, bm).solution, **F64)


def test_normal_equations_lose_accuracy_on_ill_conditioned_problems():
    # Vandermonde matrix on [0, 1], degree 9: cond(A) ~ 1e7, cond(A^T A) ~ 1e14
    t = torch.linspace(0, 1, 40, dtype=torch.float64)
    a = torch.stack([t**p for p in range(10)], dim=1)
    x_true = torch.randn(10, dtype=torch.float64)
    b = a @ x_true
    err_qr = (lstsq_qr(a, b) - x_true).abs().max().item()
    err_ne = (lstsq_normal(a, b) - x_true).abs().max().item()
    assert err_qr < 1e-6 and err_ne > 10 * err_qr
