"""Hook mechanics: replacement hooks, filters, clean-up, and equality of the two attention paths.
Reference: TransformerLens' run_with_hooks on a twin model holding the same weights."""

import pytest
import torch

from arena_core.transformer import GPT2, TransformerConfig
from tests.transformer.test_hooks_vs_transformer_lens import tl_twin

CFG = TransformerConfig(d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=48, d_vocab=41, n_ctx=16)


@pytest.fixture
def pair():
    ours = GPT2(CFG).double().eval()
    return ours, tl_twin(ours, act_fn="gelu_new", normalization_type="LN")


def test_replacement_hook_matches_transformer_lens(pair):
    ours, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 8))

    def ablate_head(z, hook):  # zero head 1's output in layer 0
        z = z.clone()
        z[:, :, 1] = 0
        return z

    def double_mlp(x, hook):
        return 2 * x

    hooks = [
        ("blocks.0.attn.hook_z", ablate_head),
        (lambda name: name.endswith("hook_mlp_out"), double_mlp),
    ]
    with torch.no_grad():
        got = ours.run_with_hooks(tokens, fwd_hooks=hooks)
        expected = tl.run_with_hooks(tokens, fwd_hooks=hooks)
        clean = ours(tokens)
    torch.testing.assert_close(got, expected, atol=1e-10, rtol=1e-10)
    assert not torch.allclose(got, clean)
    assert not any(hp.hooks for hp in ours.hook_dict.values())  # removed afterwards


def test_pattern_hook_sees_the_pattern_and_can_replace_it(pair):
    ours, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (1, 6))
    seen = {}

    def uniform(pattern, hook):
        seen[hook.name] = pattern
        causal = torch.ones_like(pattern).tril()
        return causal / causal.sum(-1, keepdim=True)

    name = "blocks.1.attn.hook_pattern"
    with torch.no_grad():
        got = ours.run_with_hooks(tokens, fwd_hooks=[(name, uniform)])
        expected = tl.run_with_hooks(tokens, fwd_hooks=[(name, uniform)])
    torch.testing.assert_close(got, expected, atol=1e-10, rtol=1e-10)
    torch.testing.assert_close(seen[name].sum(-1), torch.ones(1, 4, 6, dtype=torch.float64))


def test_hooks_are_removed_after_an_exception(pair):
    ours, _ = pair

    def boom(x, hook):
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        ours.run_with_hooks(torch.zeros(1, 3, dtype=torch.long), fwd_hooks=[("hook_embed", boom)])
    assert not any(hp.hooks for hp in ours.hook_dict.values())


def test_names_filter_and_short_keys(pair):
    ours, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 5))
    with torch.no_grad():
        _, cache = ours.run_with_cache(tokens, names_filter=["blocks.1.attn.hook_pattern"])
        _, tl_cache = tl.run_with_cache(tokens)
    assert list(cache) == ["blocks.1.attn.hook_pattern"]
    torch.testing.assert_close(cache["pattern", 1], tl_cache["pattern", 1])
    with pytest.raises(KeyError):
        ours.add_hook("blocks.9.hook_nothing", lambda x, hook: None)


def test_backward_through_cached_activations():
    """detach=False keeps the graph: gradient of a loss wrt a cached activation, vs autograd on a
    hook-retained tensor."""
    ours = GPT2(CFG).double()
    tokens = torch.randint(0, CFG.d_vocab, (1, 5))
    logits, cache = ours.run_with_cache(
        tokens, names_filter="blocks.0.hook_resid_post", detach=False
    )
    resid = cache["blocks.0.hook_resid_post"]
    (grad,) = torch.autograd.grad(logits[0, 1, 0], resid)
    assert grad.shape == resid.shape and grad[0, :2].abs().sum() > 0
    torch.testing.assert_close(grad[0, 2:], torch.zeros_like(grad[0, 2:]))  # causality
