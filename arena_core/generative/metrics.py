"""Sample-quality numbers for generative models (day 27): Fréchet distance and class coverage.

Fréchet distance (the "FID" recipe of Heusel et al. 2017, https://arxiv.org/abs/1706.08500, but
in the feature space of *our* day-12 classifier rather than Inception-v3): fit a Gaussian to the
features of real and of generated images and compute the 2-Wasserstein distance between them,

    FD = ||mu1 - mu2||^2 + tr(S1 + S2 - 2 (S1^{1/2} S2 S1^{1/2})^{1/2})

(tr((S1 S2)^{1/2}) equals tr((S1^{1/2} S2 S1^{1/2})^{1/2}); the latter is a symmetric PSD matrix,
so both square roots come from `eigh` in float64, with tiny negative eigenvalues clipped to 0.)
The number depends on the feature extractor and on the sample size, so it is only meaningful next
to the same statistic between two sets of *real* images of the same size (the floor).

Class coverage: classify N samples; report the fraction of classes that are predicted at least
once and the entropy of the predicted-class histogram (log(n_classes) nats when perfectly
balanced). A mode-collapsed GAN scores low on both.
"""

import math

import torch
from jaxtyping import Float, Int
from torch import Tensor, nn


def _sqrtm_psd(matrix: Float[Tensor, "d d"]) -> Float[Tensor, "d d"]:
    vals, vecs = torch.linalg.eigh(matrix)
    return (vecs * vals.clamp(min=0.0).sqrt()) @ vecs.T


def gaussian_stats(
    features: Float[Tensor, "n d"],
) -> tuple[Float[Tensor, " d"], Float[Tensor, "d d"]]:
    """Mean and (unbiased) covariance of the rows, in float64."""
    f = features.double()
    mu = f.mean(dim=0)
    centred = f - mu
    return mu, centred.T @ centred / (f.shape[0] - 1)


def frechet_distance(
    mu1: Float[Tensor, " d"],
    sigma1: Float[Tensor, "d d"],
    mu2: Float[Tensor, " d"],
    sigma2: Float[Tensor, "d d"],
) -> float:
    """Fréchet (2-Wasserstein squared) distance between N(mu1, sigma1) and N(mu2, sigma2)."""
    mu1, mu2, sigma1, sigma2 = (t.double() for t in (mu1, mu2, sigma1, sigma2))
    root1 = _sqrtm_psd(sigma1)
    cross = _sqrtm_psd(root1 @ sigma2 @ root1)
    value = (mu1 - mu2).pow(2).sum() + torch.trace(sigma1) + torch.trace(sigma2)
    return float(value - 2.0 * torch.trace(cross))


def frechet_distance_features(a: Float[Tensor, "n d"], b: Float[Tensor, "m d"]) -> float:
    return frechet_distance(*gaussian_stats(a), *gaussian_stats(b))


@torch.no_grad()
def classifier_features(
    classifier: nn.Module, images: Float[Tensor, "n c h w"], batch_size: int = 500
) -> tuple[Float[Tensor, "n d"], Float[Tensor, "n k"]]:
    """(penultimate-layer features, logits) of a classifier built as `.layers` = Sequential whose
    last module is the output Linear (our day-12 ConvNet: 128 post-ReLU features)."""
    classifier.eval()
    device = next(classifier.parameters()).device
    body, head = list(classifier.layers)[:-1], list(classifier.layers)[-1]
    feats, logits = [], []
    for start in range(0, len(images), batch_size):
        h = images[start : start + batch_size].to(device)
        for module in body:
            h = module(h)
        feats.append(h.cpu())
        logits.append(head(h).cpu())
    return torch.cat(feats), torch.cat(logits)


def class_coverage(predictions: Int[Tensor, " n"], n_classes: int) -> dict[str, float]:
    """Fraction of classes predicted at least once, and entropy (nats) of the class histogram."""
    counts = torch.bincount(predictions, minlength=n_classes).double()
    p = counts / counts.sum()
    nonzero = p[p > 0]
    entropy = float(-(nonzero * nonzero.log()).sum()) + 0.0  # no "-0.0" for one class
    return {
        "coverage": float((counts > 0).double().mean()),
        "entropy": entropy,
        "max_entropy": math.log(n_classes),
    }
