"""Function vectors, the CIE scan and last-position patching against TransformerLens hooks on a
twin of the same random model (GPT-2 style and Llama with grouped-query attention). Our code runs
left-padded batches with a KV-cached prefix; the reference runs every prompt alone, unpadded,
with hooks written here by hand on TL's `hook_z` / `hook_resid_pre` / `hook_resid_post`. float64,
so agreement is op-order rounding (1e-9 on probabilities, 1e-8 on d_model vectors)."""

import pytest
import torch

from arena_core.interp.suffix_patching import (
    SuffixPatchError,
    head_z_last,
    patch_heads_last,
    patch_resid_suffix,
    resid_pre_suffix,
)
from arena_core.probes.function_vectors import (
    FunctionVectorError,
    causal_indirect_effect,
    function_vector,
    head_outputs,
    random_heads,
    top_heads,
)
from arena_core.probes.icl import first_token_accuracy
from arena_core.probes.steering import add_direction
from arena_core.transformer import Llama, TransformerConfig
from tests.transformer._refs import scaled_tl_pair

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
LENGTHS = [7, 5, 9, 6, 8]  # different lengths: left padding matters
TOL = dict(atol=1e-9, rtol=0)


pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest


@pytest.fixture(scope="module", params=["gpt2", "llama-gqa"])
def pair(request):
    return scaled_tl_pair(request.param, CFG, seed=5)


def _rows(seed: int, lengths=LENGTHS) -> list[list[int]]:
    g = torch.Generator().manual_seed(seed)
    return [torch.randint(1, CFG.d_vocab, (n,), generator=g).tolist() for n in lengths]


def _tl_z_last(tl, rows):
    """[n layer head d_head] z at the last token, one unpadded TL run per prompt."""
    out = []
    for r in rows:
        _, cache = tl.run_with_cache(torch.tensor([r]), names_filter=lambda n: "hook_z" in n)
        out.append(torch.stack([cache[f"blocks.{L}.attn.hook_z"][0, -1] for L in range(3)]))
    return torch.stack(out)


def _tl_prob(tl, row, answer, hooks=()):
    logits = tl.run_with_hooks(torch.tensor([row]), fwd_hooks=list(hooks))
    return logits[0, -1].softmax(-1)[answer].item()


def test_head_outputs_match_transformer_lens(pair):
    model, tl = pair
    rows = _rows(0)
    ours = head_outputs(model, rows, batch_size=2)
    z = _tl_z_last(tl, rows)
    W_O = torch.stack([tl.blocks[L].attn.W_O for L in range(3)])  # [layer head e d]
    expected = (z[..., :, None] * W_O[None]).sum(-2)  # z_h @ W_O[h], by broadcasting
    torch.testing.assert_close(ours, expected, atol=1e-8, rtol=0)
    # the heads' outputs plus b_O add up to the attention layer's output at the last token
    for i, r in enumerate(rows):
        _, cache = tl.run_with_cache(torch.tensor([r]))
        attn_out = cache["blocks.1.hook_attn_out"][0, -1]
        torch.testing.assert_close(ours[i, 1].sum(0) + tl.blocks[1].attn.b_O, attn_out, **TOL)
    sub = head_outputs(model, rows, layers=[2, 0], batch_size=16)
    torch.testing.assert_close(sub, ours[:, [2, 0]], atol=1e-8, rtol=0)


def test_function_vector_is_sum_of_mean_head_outputs(pair):
    model, tl = pair
    rows = _rows(1)
    heads = [(2, 1), (0, 3), (2, 0)]
    z = _tl_z_last(tl, rows).mean(0)
    expected = sum(z[L, h] @ tl.blocks[L].attn.W_O[h] for L, h in heads)
    torch.testing.assert_close(function_vector(model, rows, heads, batch_size=3), expected,
                               atol=1e-8, rtol=0)  # fmt: skip


def _tl_copies(tl, row, answer, copies, hooks):
    """P(answer) in `copies` stacked copies of one unpadded prompt, each patched by `hooks`."""
    logits = tl.run_with_hooks(torch.tensor([row]).repeat(copies, 1), fwd_hooks=hooks)
    return logits[:, -1].softmax(-1)[:, answer]


def test_cie_matches_hand_written_transformer_lens_patching(pair):
    model, tl = pair
    clean, corrupted = _rows(2), _rows(3)
    answers = torch.tensor([3, 10, 20, 30, 40])
    cie = causal_indirect_effect(model, clean, corrupted, answers, batch_size=2)
    mean_z = _tl_z_last(tl, clean).mean(0)

    def set_z(z, hook):  # copy 4 * L + h patches head h of layer L
        L = int(hook.name.split(".")[1])
        z = z.clone()
        for h in range(4):
            z[4 * L + h, -1, h] = mean_z[L, h]
        return z

    hooks = [(f"blocks.{L}.attn.hook_z", set_z) for L in range(3)]
    diffs = [
        _tl_copies(tl, r, a, 12, hooks) - _tl_prob(tl, r, a) for r, a in zip(corrupted, answers)
    ]
    expected = torch.stack(diffs).mean(0).view(3, 4)
    torch.testing.assert_close(cie.double(), expected, **TOL)
    assert cie.abs().max() > 1e-3  # the patches did something
    assert top_heads(cie, 2)[0] == divmod(int(expected.argmax()), 4)


def test_per_prompt_clean_values_restore_the_clean_run_at_the_last_layer(pair):
    # patching every head's own clean z at the last layer, last token, is the clean run for that
    # head only; patching with the corrupted run's own z changes nothing at all
    model, tl = pair
    rows = _rows(4)
    answers = torch.tensor([1, 2, 3, 4, 5])
    own = head_z_last(model, rows)
    base = torch.tensor([_tl_prob(tl, r, a) for r, a in zip(rows, answers)])
    same = patch_heads_last(model, rows, answers, own, batch_size=4)
    torch.testing.assert_close(same.double(), base.double().expand(3, 4, 5), **TOL)


def test_resid_suffix_patching_matches_transformer_lens(pair):
    model, tl = pair
    clean, corrupted = _rows(6), _rows(7, [6, 8, 5, 7, 9])
    k = 3
    for c, r in zip(clean, corrupted):  # same last k tokens, as a shared query would give
        r[-k:] = c[-k:]
    answers = torch.tensor([5, 6, 7, 8, 9])
    values = resid_pre_suffix(model, clean, k, batch_size=2)
    ours = patch_resid_suffix(model, corrupted, answers, values, batch_size=3)
    for i, (c, r) in enumerate(zip(clean, corrupted)):
        _, cache = tl.run_with_cache(torch.tensor([c]))

        def set_resid(x, hook, c=c, r=r, cache=cache):  # copy k * L + j patches column -k + j
            L = int(hook.name.split(".")[1])
            x = x.clone()
            for j in range(k):
                x[k * L + j, len(r) - k + j] = cache[hook.name][0, len(c) - k + j]
            return x

        hooks = [(f"blocks.{L}.hook_resid_pre", set_resid) for L in range(3)]
        expected = _tl_copies(tl, r, answers[i], 3 * k, hooks).view(3, k)
        torch.testing.assert_close(ours[:, :, i].double(), expected, **TOL)
    base = torch.tensor([_tl_prob(tl, r, a) for r, a in zip(corrupted, answers)])
    assert (ours - base).abs().max() > 1e-3  # the patches did something


def test_fv_added_at_the_last_token_of_left_padded_batches(pair):
    model, tl = pair
    rows = _rows(8)
    fv = function_vector(model, _rows(9), [(1, 2), (0, 0)])
    answers = torch.tensor([1, 2, 3, 4, 5])
    hook = "blocks.1.hook_resid_post"

    def add(x, hook):
        x = x.clone()
        x[0, -1] += fv
        return x

    expected = [tl.run_with_hooks(torch.tensor([r]), fwd_hooks=[(hook, add)])[0, -1] for r in rows]
    expected = torch.stack(expected)
    with add_direction(model, hook, fv, 1.0, positions=-1):
        score = first_token_accuracy(model, rows, answers, batch_size=3)
    p = expected.softmax(-1).gather(-1, answers[:, None])[:, 0]
    assert score.p_correct == pytest.approx(p.mean().item(), abs=1e-9)
    assert score.correct == (expected.argmax(-1) == answers).tolist()
    plain = torch.stack([tl(torch.tensor([r]))[0, -1] for r in rows])
    assert (plain - expected).abs().max() > 1e-2  # the vector did something


def test_random_heads_are_distinct_and_in_range():
    heads = random_heads(30, 9, 10, seed=1, max_layer=12)
    assert len(set(heads)) == 10 and all(0 <= L < 12 and 0 <= h < 9 for L, h in heads)
    assert heads == random_heads(30, 9, 10, seed=1, max_layer=12)
    assert heads != random_heads(30, 9, 10, seed=2, max_layer=12)


def test_top_heads_order():
    cie = torch.tensor([[0.1, 0.5], [0.3, -0.2]])
    assert top_heads(cie, 3) == [(0, 1), (1, 0), (0, 0)]


def test_bad_input_raises_clear_errors(pair):
    model, _ = pair
    rows = _rows(0)
    with pytest.raises(FunctionVectorError, match="heads"):
        function_vector(model, rows, [(3, 0)])
    with pytest.raises(FunctionVectorError, match="heads"):
        function_vector(model, rows, [])
    with pytest.raises(FunctionVectorError, match="k must be"):
        top_heads(torch.zeros(3, 4), 13)
    with pytest.raises(FunctionVectorError, match="k must be"):
        random_heads(3, 4, 0)
    with pytest.raises(SuffixPatchError, match="values"):
        patch_heads_last(model, rows, torch.zeros(5, dtype=torch.long), torch.zeros(3, 4, 7))
    with pytest.raises(SuffixPatchError, match="answers"):
        patch_heads_last(model, rows, torch.zeros(4, dtype=torch.long), torch.zeros(3, 4, 8))
    with pytest.raises(SuffixPatchError, match="more than"):
        resid_pre_suffix(model, [[1, 2]], 2)


def test_a_head_with_no_output_matrix_has_no_effect():
    # planted answer: with W_O of head (1, 2) set to zero the head writes nothing, so its output,
    # its function vector and its CIE are exactly zero while other heads' are not
    torch.manual_seed(6)
    model = Llama(CFG.with_(n_kv_heads=2, rotary_base=500.0)).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
        model.blocks[1].attn.W_O[2] = 0.0
    clean, corrupted = _rows(10), _rows(11)
    answers = torch.tensor([1, 2, 3, 4, 5])
    outs = head_outputs(model, clean)
    assert outs[:, 1, 2].abs().max() == 0 and outs[:, 1, 1].abs().max() > 1e-3
    assert function_vector(model, clean, [(1, 2)]).abs().max() == 0
    cie = causal_indirect_effect(model, clean, corrupted, answers)
    assert cie[1, 2].abs().item() < 1e-15 and cie.abs().max() > 1e-3
