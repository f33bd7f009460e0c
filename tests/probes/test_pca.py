"""Our SVD-based PCA against `sklearn.decomposition.PCA` (components up to sign, variances)."""

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA as SkPCA

from arena_core.probes.pca import PCAInputError, fit_pca


@pytest.mark.parametrize("n, d, k", [(50, 8, 3), (20, 40, 5), (30, 6, None)])
def test_pca_matches_sklearn(n, d, k):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + 3.0  # anisotropic, off-centre
    ours = fit_pca(torch.tensor(x), k)
    ref = SkPCA(n_components=k, svd_solver="full").fit(x)
    kk = ref.components_.shape[0]
    comp = ours.components.numpy()
    # components up to a sign per row (compare |cos| = 1), plus sklearn's own sign convention
    cos = np.abs((comp * ref.components_).sum(axis=1))
    np.testing.assert_allclose(cos, np.ones(kk), atol=1e-10)
    np.testing.assert_allclose(comp, ref.components_, atol=1e-8)
    np.testing.assert_allclose(ours.explained_variance.numpy(), ref.explained_variance_, rtol=1e-10)
    np.testing.assert_allclose(
        ours.explained_variance_ratio.numpy(), ref.explained_variance_ratio_, rtol=1e-10
    )
    np.testing.assert_allclose(ours.transform(torch.tensor(x)).numpy(), ref.transform(x), atol=1e-8)


def test_pca_rejects_too_many_components():
    with pytest.raises(PCAInputError):
        fit_pca(torch.zeros(5, 3), 4)
