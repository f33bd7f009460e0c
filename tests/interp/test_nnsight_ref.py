"""Our interventions against the same ones written with nnsight on HuggingFace's Llama (day 44).

A random `LlamaForCausalLM` (grouped-query attention, randomised norms) and our `Llama` hold the
same weights (tests/transformer/_refs.py); the prompts have different lengths, so left padding,
the attention mask and position ids are exercised too. float64 on both sides; HF computes the
rotary angles in float32, which leaves differences near 1e-8, hence atol 1e-6.
"""

import beartype  # noqa: F401  (before nnsight)
import einops
import pytest
import torch

from arena_core.interp.nnsight_ref import (
    nnsight_function_vector,
    nnsight_head_outputs,
    nnsight_steered_logits,
    nnsight_wrap,
    padded_inputs,
)
from arena_core.probes.function_vectors import function_vector, head_outputs
from arena_core.probes.steering import add_direction
from tests.transformer._refs import hf_llama_pair

ATOL = 1e-6
ROWS = [[5, 9, 13, 2, 7], [3, 4], [8, 1, 6, 11]]  # different lengths: left padding matters
PAD = 0


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(7)
    hf, ours = hf_llama_pair(
        dtype=torch.float64, vocab_size=61, hidden_size=32, intermediate_size=48,
        num_hidden_layers=3, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=64,
    )  # fmt: skip
    return nnsight_wrap(hf), ours


def real(mask: torch.Tensor) -> torch.Tensor:
    return mask.bool()


@pytest.mark.parametrize("last_only", [False, True])
def test_nnsight_steering_matches_ours(models, last_only):
    nn_model, ours = models
    direction = torch.randn(32, dtype=torch.float64)
    inputs = padded_inputs(ROWS, PAD)
    theirs = nnsight_steered_logits(nn_model, ROWS, PAD, 1, direction, 3.0, last_only)
    with torch.no_grad():
        plain = ours(inputs["input_ids"], attention_mask=inputs["attention_mask"])
        with add_direction(ours, "blocks.1.hook_resid_post", direction, 3.0,
                           positions=-1 if last_only else None):  # fmt: skip
            got = ours(inputs["input_ids"], attention_mask=inputs["attention_mask"])
    m = real(inputs["attention_mask"])
    torch.testing.assert_close(got[m], theirs[m], atol=ATOL, rtol=0)
    assert (got - plain)[m].abs().max() > 1e-2  # the steer changed the logits


def test_nnsight_head_outputs_match_our_hook_z_times_w_o(models):
    """nnsight's o_proj-input slices against hook_z @ W_O[h] of our model, read per prompt
    without padding (so padding, the head split and W_O's layout are all checked)."""
    nn_model, ours = models
    theirs = nnsight_head_outputs(nn_model, ROWS, PAD, layers=[0, 2], batch_size=2)
    expected = []
    for row in ROWS:
        _, cache = ours.run_with_cache(torch.tensor([row]))
        per_layer = []
        for layer in (0, 2):
            z = cache[f"blocks.{layer}.attn.hook_z"][0, -1]  # [head d_head]
            w_o = ours.blocks[layer].attn.W_O  # [head d_head d_model]
            per_layer.append(einops.einsum(z, w_o, "h e, h e d -> h d"))
        expected.append(torch.stack(per_layer))
    torch.testing.assert_close(theirs, torch.stack(expected), atol=ATOL, rtol=0)
    # the heads' outputs add up to the attention output (o_proj has no bias in Llama)
    with torch.no_grad():
        _, cache = ours.run_with_cache(torch.tensor([ROWS[0]]))
    torch.testing.assert_close(
        theirs[0, 0].sum(0), cache["blocks.0.hook_attn_out"][0, -1], atol=ATOL, rtol=0
    )


def test_nnsight_function_vector_is_sum_of_mean_head_outputs(models):
    nn_model, _ = models
    heads = [(0, 1), (2, 3), (2, 0)]
    fv = nnsight_function_vector(nn_model, ROWS, PAD, heads)
    outs = nnsight_head_outputs(nn_model, ROWS, PAD, layers=[0, 2])
    by_hand = outs[:, 0, 1].mean(0) + outs[:, 1, 3].mean(0) + outs[:, 1, 0].mean(0)
    torch.testing.assert_close(fv, by_hand, atol=1e-12, rtol=0)


def test_nnsight_head_outputs_match_function_vectors_module(models):
    nn_model, ours = models
    theirs = nnsight_head_outputs(nn_model, ROWS, PAD, layers=[1, 2])
    got = head_outputs(ours, ROWS, layers=[1, 2], batch_size=2)
    torch.testing.assert_close(got, theirs, atol=ATOL, rtol=0)


def test_function_vector_and_its_patch_match_nnsight(models):
    """The FV built by ours and by nnsight, and the logits after adding it at the last token of
    the residual stream after layer 1 (ours: add_direction; nnsight: layers[1].output[:, -1])."""
    nn_model, ours = models
    heads = [(2, 1), (0, 3), (1, 2)]
    fv_ours = function_vector(ours, ROWS, heads)
    fv_theirs = nnsight_function_vector(nn_model, ROWS, PAD, heads)
    torch.testing.assert_close(fv_ours, fv_theirs, atol=ATOL, rtol=0)
    inputs = padded_inputs(ROWS, PAD)
    theirs = nnsight_steered_logits(nn_model, ROWS, PAD, 1, fv_theirs, 1.0, last_only=True)
    with torch.no_grad():
        plain = ours(inputs["input_ids"], attention_mask=inputs["attention_mask"])
        with add_direction(ours, "blocks.1.hook_resid_post", fv_ours, 1.0, positions=-1):
            got = ours(inputs["input_ids"], attention_mask=inputs["attention_mask"])
    m = real(inputs["attention_mask"])
    torch.testing.assert_close(got[m], theirs[m], atol=ATOL, rtol=0)
    assert (got[:, -1] - plain[:, -1]).abs().max() > 1e-3  # the FV moved the last position
    torch.testing.assert_close(got[:, :-1][m[:, :-1]], plain[:, :-1][m[:, :-1]], atol=1e-12, rtol=0)
