"""Toy models trained from scratch in seconds, to see a mechanism in isolation (days 64–65).

- `superposition.py` — the ReLU output model of Elhage et al. (2022), "Toy Models of
  Superposition": many independent instances trained in one vectorised Adam loop, sparse feature
  generation (independent, correlated or anti-correlated pairs), the importance-weighted loss, and
  the geometry read off the trained weights (dimensionality per feature, represented features,
  the regime of two features in one dimension).
"""

from arena_core.toy.superposition import (
    SuperpositionInputError,
    ToyModel,
    best_replicas,
    dimensionality,
    evaluate_loss,
    generate_batch,
    importance_weighted_loss,
    train_toy_model,
    two_feature_regime,
)

__all__ = [
    "SuperpositionInputError",
    "ToyModel",
    "best_replicas",
    "dimensionality",
    "evaluate_loss",
    "generate_batch",
    "importance_weighted_loss",
    "train_toy_model",
    "two_feature_regime",
]
