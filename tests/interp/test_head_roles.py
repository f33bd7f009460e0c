"""Head-role evidence against TransformerLens' twin of the same random model (float64).

Attention numbers are read from TL's own `hook_pattern`; DLA is recomputed from TL's cache by
hand (z_h @ W_O[h] at END, divided by TL's cached final RMS scale, times the final gain, dot
W_U[IO] − W_U[S]); copy scores by a per-head, per-name loop over TL's modules with the K/V head
of query head h picked as h // group (no shared code with the vectorised version)."""

import pytest
import torch

from arena_core.interp.head_roles import HeadRolesError, copy_scores, head_evidence
from arena_core.interp.ioi import TemplateBatch
from arena_core.transformer import TransformerConfig
from tests.transformer._refs import scaled_tl_pair

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
POS = {"IO": 1, "S1": 3, "S1+1": 4, "S2": 6, "end": 8}


def batch(g, n):
    tokens = torch.randint(0, CFG.d_vocab, (n, 9), generator=g)
    return TemplateBatch(list(range(n)), tokens, dict(POS), tokens[:, 1], tokens[:, 3])


@pytest.fixture(scope="module")
def pair():
    return scaled_tl_pair("llama-gqa", CFG, seed=4, scale=1.5)


def test_attention_and_dla_match_transformer_lens(pair):
    model, tl = pair
    g = torch.Generator().manual_seed(0)
    batches = [batch(g, 3), batch(g, 5)]
    ev = head_evidence(model, batches)
    sums = {k: torch.zeros(CFG.n_layers, CFG.n_heads, dtype=torch.float64) for k in ev.as_dict()}
    for b in batches:
        _, cache = tl.run_with_cache(b.tokens)
        end = POS["end"]
        for layer in range(CFG.n_layers):
            pat = cache[f"blocks.{layer}.attn.hook_pattern"]
            for name, (q, k) in {"end_to_io": (end, 1), "end_to_s1": (end, 3),
                                 "end_to_s2": (end, 6), "s2_to_s1": (6, 3),
                                 "s2_to_s1p1": (6, 4), "s1p1_to_s1": (4, 3)}.items():  # fmt: skip
                sums[name][layer] += pat[:, :, q, k].sum(0)
            prev = torch.stack([pat[:, :, i, i - 1] for i in range(1, 9)], -1)  # [b h 8]
            sums["prev_token"][layer] += prev.mean(-1).sum(0)
            z = cache[f"blocks.{layer}.attn.hook_z"][:, end]
            for h in range(CFG.n_heads):
                out = z[:, h] @ tl.blocks[layer].attn.W_O[h]
                out = out / cache["ln_final.hook_scale"][:, end] * tl.ln_final.w
                d = tl.W_U[:, b.io_ids].T - tl.W_U[:, b.s_ids].T
                sums["dla"][layer, h] += (out * d).sum()
    for name, value in ev.as_dict().items():
        torch.testing.assert_close(value, sums[name] / 8, atol=1e-10, rtol=1e-10)
    assert ev.dla.abs().max() > 1e-3 and ev.end_to_io.max() > 0


def test_copy_score_matches_a_per_head_loop(pair):
    model, tl = pair
    names = torch.tensor([3, 7, 11, 19, 23, 40])
    ours = copy_scores(model, names, k=5)
    neg = copy_scores(model, names, k=5, negative=True)
    group = CFG.n_heads // 2
    ref = torch.zeros(CFG.n_layers, CFG.n_heads, dtype=torch.float64)
    ref_neg = torch.zeros_like(ref)
    with torch.no_grad():
        for i, t in enumerate(names.tolist()):
            x = tl.W_E[t][None, None]
            x = x + tl.blocks[0].mlp(tl.blocks[0].ln2(x))
            for layer in range(CFG.n_layers):
                attn = tl.blocks[layer].attn
                for h in range(CFG.n_heads):
                    v = tl.blocks[layer].ln1(x)[0, 0] @ attn._W_V[h // group]
                    out = v @ attn.W_O[h]
                    for sign, grid in ((1.0, ref), (-1.0, ref_neg)):
                        r = sign * out
                        r = r / (r.pow(2).mean() + tl.cfg.eps).sqrt() * tl.ln_final.w
                        top = (r @ tl.W_U).topk(5).indices.tolist()
                        grid[layer, h] += (t in top) / len(names)
    torch.testing.assert_close(ours, ref, atol=1e-12, rtol=0)
    torch.testing.assert_close(neg, ref_neg, atol=1e-12, rtol=0)
    assert ours.sum() + neg.sum() > 0  # some head copies or anti-copies some name


def test_bad_inputs(pair):
    model, _ = pair
    with pytest.raises(HeadRolesError, match="no IOI batches"):
        head_evidence(model, [])
    with pytest.raises(HeadRolesError, match="no name"):
        copy_scores(model, torch.tensor([], dtype=torch.long))
    with pytest.raises(HeadRolesError, match="k must be"):
        copy_scores(model, torch.tensor([1]), k=0)


@pytest.mark.slow
def test_gpt2_small_name_movers_are_wang_et_al_s():
    """GPT-2 small on 64 prompts (BOS first): Wang et al.'s name movers 9.6, 9.9 and 10.0 are
    among the 5 heads with the largest positive DLA, and each attends from END to IO more than
    to S1 + S2; their negative name mover 10.7 has negative DLA."""
    from arena_core.data.ioi import ioi_dataset
    from arena_core.interp.ioi import template_batches
    from arena_core.models import ModelUnavailableError, load_model

    try:
        lm = load_model("gpt2")
    except (ModelUnavailableError, OSError) as err:
        pytest.skip(f"GPT-2 small weights are not available offline: {err}")
    tok = lm.tokenizer
    data = ioi_dataset(tok, 64, seed=0, bos=tok.bos_token_id)
    ev = head_evidence(lm.model.eval(), template_batches(data))
    top = {(int(i) // 12, int(i) % 12) for i in ev.dla.flatten().topk(5).indices}
    for head in [(9, 6), (9, 9), (10, 0)]:
        assert head in top
        assert ev.end_to_io[head] > ev.end_to_s1[head] + ev.end_to_s2[head]
    assert ev.dla[10, 7] < 0
