"""`random_twin`: same class and config, fresh seeded weights from the project's init (matrix
entries with the config's `init_range` as standard deviation), the source model and the caller's
random stream untouched."""

import pytest
import torch

from arena_core.models.random_init import RandomTwinError, random_twin
from arena_core.transformer import GPT2, Llama, TransformerConfig

CFG = TransformerConfig(
    d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32, n_kv_heads=2
)


@pytest.fixture
def trained():
    torch.manual_seed(11)
    m = Llama(CFG)
    with torch.no_grad():  # stand-in for trained weights: anything not the seeded init
        for p in m.parameters():
            p.add_(0.5)
    return m.eval()


def test_twin_has_same_architecture_and_new_weights(trained):
    before = {k: v.clone() for k, v in trained.state_dict().items()}
    twin = random_twin(trained, seed=3)
    assert type(twin) is Llama and twin.cfg == trained.cfg
    sd, tw = trained.state_dict(), twin.state_dict()
    assert sd.keys() == tw.keys()
    assert all(sd[k].shape == tw[k].shape for k in sd)
    assert not any(torch.equal(sd[k], tw[k]) for k in sd if k.endswith("W_Q"))
    assert all(torch.equal(before[k], sd[k]) for k in sd)  # the source is not modified
    # N(0, init_range) matrices: ~16k entries, so the pooled std is init_range within ~1%
    w = torch.cat([p.flatten() for n, p in twin.named_parameters() if ".W_" in n])
    assert w.numel() > 10_000
    assert w.std().item() == pytest.approx(CFG.init_range, rel=0.03)
    assert all(p.eq(1).all() for n, p in twin.named_parameters() if n.endswith(".w"))
    assert not twin.training


def test_twin_is_reproducible_and_seeded(trained):
    a, b, c = random_twin(trained, 0), random_twin(trained, 0), random_twin(trained, 1)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.embed.W_E, c.embed.W_E)
    torch.manual_seed(123)
    r1 = torch.rand(1)
    torch.manual_seed(123)
    random_twin(trained, 5)
    assert torch.equal(torch.rand(1), r1)  # the caller's random stream is left alone


def test_other_models_are_refused():
    with pytest.raises(RandomTwinError, match="CausalLM"):
        random_twin(torch.nn.Linear(2, 2))


def test_gpt2_twin():
    torch.manual_seed(0)
    g = GPT2(TransformerConfig(d_model=16, n_layers=1, n_heads=2, d_head=8, d_mlp=32,
                               d_vocab=20, n_ctx=8))  # fmt: skip
    twin = random_twin(g, seed=1)
    assert type(twin) is GPT2 and not torch.equal(twin.embed.W_E, g.embed.W_E)
