"""Each speed drill's looped and vectorised versions agree with a torch reference."""

import pytest
import torch

from arena_core.tensors.drills import DRILLS, sample_looped, sample_vectorised

REFERENCES = {
    "matmul": lambda a, b: torch.matmul(a, b),
    "softmax": lambda x: torch.softmax(x, dim=-1),
    "cosine-sim": lambda a, b: torch.nn.functional.cosine_similarity(a[:, None], b[None], dim=-1),
}


@pytest.mark.parametrize("drill", [d for d in DRILLS if d.name in REFERENCES], ids=lambda d: d.name)
@pytest.mark.parametrize("n", [1, 7])
def test_drills_match_torch(drill, n):
    inputs = drill.make(n, torch.Generator().manual_seed(n))
    ref = REFERENCES[drill.name](*inputs)
    # float64 inputs: Python-float loops and BLAS differ only in summation order (~1e-15)
    torch.testing.assert_close(drill.looped(*inputs), ref, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(drill.vectorised(*inputs), ref, rtol=1e-10, atol=1e-12)


def test_sampling_drill_matches_bucketize_and_a_direct_definition():
    probs = torch.tensor([0.2, 0.0, 0.5, 0.3], dtype=torch.float64)
    u = torch.rand(500, dtype=torch.float64)
    cdf = probs.cumsum(0)
    # definition: the number of CDF entries <= u is the drawn index (clamped to the last)
    ref = (cdf[None, :] <= u[:, None]).sum(1).clamp_max(3)
    assert torch.equal(sample_looped(probs, u), ref)
    assert torch.equal(sample_vectorised(probs, u), ref)
    assert torch.equal(torch.bucketize(u, cdf, right=True).clamp_max(3), ref)
