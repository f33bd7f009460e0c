import random

import numpy as np
import pytest
import torch

from arena_core.utils import DeviceUnavailableError, resolve_device, seed_everything


def test_auto_picks_cuda_only_when_available():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_requested_but_absent_is_a_clear_error():
    with pytest.raises(DeviceUnavailableError, match="CUDA is not available"):
        resolve_device("cuda")


def test_unknown_device_is_a_value_error():
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu9")


def test_seed_everything_repeats_all_generators():
    def draw():
        seed_everything(123)
        return random.random(), np.random.rand(), torch.rand(1).item()

    assert draw() == draw()
    gen = seed_everything(5)
    a = torch.rand(3, generator=gen)
    gen = seed_everything(5)
    assert torch.equal(a, torch.rand(3, generator=gen))


def test_seed_rejects_non_int():
    with pytest.raises(TypeError):
        seed_everything(1.5)
