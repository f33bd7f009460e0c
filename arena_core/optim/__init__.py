"""Optimizers, learning-rate schedules, sweeps, loss landscapes and data parallelism (days 15-19).

Each file holds one concept: `optimizer.py` (the base class with parameter groups), `sgd.py`,
`rmsprop.py`, `adam.py` (Adam, AdamW), `schedulers.py`, `functions.py` (pathological test surfaces),
`training.py` (the digits MLP task shared by days 15-19),
`sweeps.py` (grid/random search), `landscape.py` (Li et al. 2018 loss landscapes),
`distributed.py` (data-parallel training on torch.distributed).
"""

from arena_core.optim.adam import Adam, AdamW
from arena_core.optim.optimizer import Optimizer
from arena_core.optim.rmsprop import RMSprop
from arena_core.optim.schedulers import (
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    LRScheduler,
    SequentialLR,
    StepLR,
    warmup_cosine,
)
from arena_core.optim.sgd import SGD

__all__ = [
    "SGD",
    "Adam",
    "AdamW",
    "CosineAnnealingLR",
    "ExponentialLR",
    "LRScheduler",
    "LinearLR",
    "Optimizer",
    "RMSprop",
    "SequentialLR",
    "StepLR",
    "warmup_cosine",
]
