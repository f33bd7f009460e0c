"""Activation addition end to end against a TransformerLens twin of the same random Llama.

The twin holds our weights (no weight processing); the references are written with TL's own
`run_with_cache` / `run_with_hooks` on one unpadded prompt at a time, while ours runs batched with
left padding and a KV cache. float64: agreement is op-order rounding, atol 1e-6.
"""

import pytest
import torch
import torch.nn.functional as F

from arena_core.probes.activation_addition import (
    contrast_direction,
    mean_text_loss,
    random_direction,
    steered_generate,
    steered_logit_gap,
    token_nll,
)
from arena_core.probes.steering import SteeringError
from arena_core.transformer import Llama, TransformerConfig
from arena_core.transformer.sampling import SamplingConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

CFG = TransformerConfig(
    d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=64
).with_(n_kv_heads=2, rotary_base=500.0)
HOOK = "blocks.1.hook_resid_post"
PAD = 0
ATOL = 1e-6


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(11)
    model = Llama(CFG).double().eval()
    with torch.no_grad():  # larger weights than the init, so steering moves the logits visibly
        for p in model.parameters():
            p.mul_(3.0)
    return model, transformer_lens_twin(model, dtype=torch.float64)


def tl_add(direction, scale):
    def hook(x, hook):  # by hand, in TL's convention: every position
        return x + scale * direction

    return hook


def test_contrast_direction_matches_transformer_lens(pair):
    model, tl = pair
    pos = [[3, 5, 7], [9, 2], [4, 4, 4, 6]]
    neg = [[3, 5, 8], [10, 2], [4, 4, 4, 1]]
    got = contrast_direction(model, pos, neg, HOOK, batch_size=2)
    diffs = []
    for p, n in zip(pos, neg, strict=True):
        _, cp = tl.run_with_cache(torch.tensor([p]), names_filter=[HOOK])
        _, cn = tl.run_with_cache(torch.tensor([n]), names_filter=[HOOK])
        diffs.append(cp[HOOK][0, -1] - cn[HOOK][0, -1])
    torch.testing.assert_close(got.double(), torch.stack(diffs).mean(0), atol=1e-5, rtol=0)


def test_steered_generation_matches_transformer_lens_full_forward(pair):
    """Greedy tokens generated with the steer on (batched, left padding, KV cache) are the
    argmax of TL's steered forward over the finished sequence, step by step."""
    model, tl = pair
    prompts = [[5, 9, 13, 2, 7], [3, 4], [8, 1, 6]]
    direction = torch.randn(CFG.d_model, dtype=torch.float64)
    greedy = SamplingConfig(temperature=0.0)
    steered = steered_generate(model, prompts, HOOK, direction, 4.0, 6, greedy, PAD)
    plain = steered_generate(model, prompts, HOOK, direction, 0.0, 6, greedy, PAD)
    assert steered != plain  # the steer changed what was generated
    for prompt, new in zip(prompts, steered, strict=True):
        seq = torch.tensor([prompt + new])
        with torch.no_grad():
            logits = tl.run_with_hooks(seq, fwd_hooks=[(HOOK, tl_add(direction, 4.0))])
        predicted = logits[0, len(prompt) - 1 : -1].argmax(-1).tolist()
        assert predicted == new


def test_token_nll_matches_cross_entropy(pair):
    model, tl = pair
    prompts = [[5, 9, 13], [3], [8, 1, 6, 2]]
    conts = [[7, 7, 2], [4, 10, 11, 12], [9]]
    got = token_nll(model, prompts, conts, PAD)
    for p, c, g in zip(prompts, conts, got, strict=True):
        seq = torch.tensor(p + c)
        with torch.no_grad():
            logits = tl(seq[None])[0]
        expected = F.cross_entropy(logits[:-1], seq[1:], reduction="none")[len(p) - 1 :]
        torch.testing.assert_close(g, expected, atol=ATOL, rtol=0)


def test_steered_text_loss_matches_transformer_lens(pair):
    model, tl = pair
    rows = [[5, 9, 13, 2, 7], [3, 4, 8]]
    direction = torch.randn(CFG.d_model, dtype=torch.float64)
    got = mean_text_loss(model, rows, PAD, HOOK, direction, -2.0)
    losses = []
    for r in rows:
        seq = torch.tensor([r])
        with torch.no_grad():
            logits = tl.run_with_hooks(seq, fwd_hooks=[(HOOK, tl_add(direction, -2.0))])
        losses.append(F.cross_entropy(logits[0, :-1], seq[0, 1:], reduction="none"))
    assert got == pytest.approx(torch.cat(losses).mean().item(), abs=ATOL)
    assert abs(got - mean_text_loss(model, rows, PAD)) > 1e-3  # unsteered differs


def test_steered_logit_gap_matches_transformer_lens(pair):
    model, tl = pair
    rows = [[5, 9, 13, 2, 7], [3, 4, 8], [8, 1, 6, 2]]
    starts = [3, 0, 2]
    direction = torch.randn(CFG.d_model, dtype=torch.float64)
    got = steered_logit_gap(model, rows, starts, (4, 9), PAD, HOOK, direction, 2.5)
    expected = []
    for r, s in zip(rows, starts, strict=True):

        def hook(x, hook, s=s):  # from real token s onwards, by hand
            x = x.clone()
            x[:, s:] += 2.5 * direction
            return x

        with torch.no_grad():
            logits = tl.run_with_hooks(torch.tensor([r]), fwd_hooks=[(HOOK, hook)])[0, -1]
        expected.append((logits[4] - logits[9]).item())
    torch.testing.assert_close(got.double(), torch.tensor(expected, dtype=torch.float64),
                               atol=1e-5, rtol=0)  # fmt: skip
    plain = steered_logit_gap(model, rows, starts, (4, 9), PAD)
    assert (got - plain).abs().max() > 1e-2
    with pytest.raises(SteeringError, match="one start per row"):
        steered_logit_gap(model, rows, [0, 9, 0], (4, 9), PAD)


def test_random_direction_has_the_same_length():
    like = torch.tensor([3.0, 4.0, 0.0])
    r = random_direction(like, torch.Generator().manual_seed(0))
    assert r.norm().item() == pytest.approx(5.0, rel=1e-6)
    assert torch.cosine_similarity(r, like, dim=0).abs() < 0.999


def test_bad_inputs_raise_clear_errors(pair):
    model, _ = pair
    with pytest.raises(SteeringError, match="as many positive"):
        contrast_direction(model, [[1, 2]], [[1, 2], [3]], HOOK)
    with pytest.raises(SteeringError, match="continuations"):
        token_nll(model, [[1, 2]], [[3], [4]], PAD)
