"""Activation addition on our models against hooks written directly on TransformerLens' twin of
the same random model (float64: agreement is op-order rounding, far inside the 1e-5 asked)."""

import pytest
import torch

from arena_core.probes.steering import SteeringError, add_direction, steering_hook
from arena_core.transformer import TransformerConfig
from tests.transformer._refs import scaled_tl_pair

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
HOOK = "blocks.1.hook_resid_post"


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def pair(request):
    return scaled_tl_pair(request.param, CFG, seed=4)


@pytest.mark.parametrize("positions", [None, [0, 3], -1])
@pytest.mark.parametrize("hook", [HOOK, "blocks.0.hook_resid_pre", "blocks.2.hook_mlp_out"])
def test_add_direction_matches_transformer_lens(pair, positions, hook):
    model, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 7))
    direction = torch.randn(CFG.d_model, dtype=torch.float64)
    scale = 4.0
    cols = None if positions is None else ([positions] if isinstance(positions, int) else positions)

    def tl_hook(x, hook):  # written out independently of ours: the TL convention by hand
        x = x.clone()
        if cols is None:
            x += scale * direction
        else:
            for c in cols:
                x[:, c] += scale * direction
        return x

    with torch.no_grad():
        expected = tl.run_with_hooks(tokens, fwd_hooks=[(hook, tl_hook)])
        plain = tl(tokens)
        with add_direction(model, hook, direction, scale, positions):
            ours = model(tokens)
        after = model(tokens)
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=0)
    assert (ours - plain).abs().max() > 1e-2  # the steer did something
    torch.testing.assert_close(after, plain, atol=1e-9, rtol=0)  # and was removed afterwards


def test_hook_also_runs_on_transformer_lens(pair):
    model, tl = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 5))
    direction = torch.randn(CFG.d_model, dtype=torch.float64)
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[0, 4] = mask[1, 2] = True  # a different position per prompt
    with torch.no_grad():
        theirs = tl.run_with_hooks(tokens, fwd_hooks=[(HOOK, steering_hook(direction, -2.0, mask))])
        ours = model.run_with_hooks(
            tokens, fwd_hooks=[(HOOK, steering_hook(direction, -2.0, mask))]
        )
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=0)
    # positions before the steered one are untouched (causality)
    torch.testing.assert_close(ours[1, :2], tl(tokens)[1, :2], atol=1e-9, rtol=0)


def test_steering_with_an_existing_hook_keeps_it(pair):
    model, _ = pair
    seen = []
    model.add_hook(HOOK, lambda x, hook: seen.append(1))
    try:
        with add_direction(model, HOOK, torch.zeros(CFG.d_model, dtype=torch.float64)):
            model(torch.zeros(1, 3, dtype=torch.long))
        model(torch.zeros(1, 3, dtype=torch.long))
    finally:
        model.reset_hooks()
    assert seen == [1, 1]


def test_bad_direction_is_a_user_error(pair):
    model, _ = pair
    with pytest.raises(SteeringError, match="width"):
        with add_direction(model, HOOK, torch.zeros(5, dtype=torch.float64)):
            model(torch.zeros(1, 3, dtype=torch.long))
    with pytest.raises(SteeringError, match="no hook point"):
        with add_direction(model, "blocks.9.hook_resid_post", torch.zeros(CFG.d_model)):
            pass


def test_steering_on_device_matches_cpu(pair, device):
    model, _ = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 6))
    direction = torch.randn(CFG.d_model, dtype=torch.float64)
    with torch.no_grad(), add_direction(model, HOOK, direction, 3.0, [1, -1]):
        ref = model(tokens)
    moved = type(model)(model.cfg).double().eval()
    moved.load_state_dict(model.state_dict())
    moved.to(device)
    with torch.no_grad(), add_direction(moved, HOOK, direction, 3.0, [1, -1]):  # direction on cpu
        got = moved(tokens.to(device))
    torch.testing.assert_close(got.cpu(), ref, atol=1e-9, rtol=0)
