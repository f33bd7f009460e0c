"""Seeding every random number generator a day script touches (Python, NumPy, torch, CUDA)."""

import os
import random

import numpy as np
import torch


def seed_everything(seed: int) -> torch.Generator:
    """Seed `random`, NumPy's global RNG and torch (CPU and every CUDA device); return a Generator.

    The returned generator is seeded too, for code that prefers an explicit generator over the
    global state (DataLoader shuffling, sampling).
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {seed!r}")
    os.environ["PYTHONHASHSEED"] = str(seed)  # affects subprocesses only, but keeps them consistent
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    generator = torch.Generator()
    generator.manual_seed(seed)
    return generator
