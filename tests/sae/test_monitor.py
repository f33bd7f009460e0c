"""SAE monitors, steering and ablation (day 48) against independent references: scikit-learn's
`roc_auc_score` for latent AUROCs, a planted toy latent, hand-written hooks on a TransformerLens
twin of the same random Llama (float64: agreement is op-order rounding) and direct formulas."""

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import roc_auc_score

from arena_core.data.concepts import SPLITS, ConceptError, load_concept
from arena_core.errors import UserError
from arena_core.probes.steering import add_direction
from arena_core.sae import ReluSAE, SAEConfig, SAEError
from arena_core.sae.interventions import (
    ablate_latents,
    ablation_hook,
    decoder_direction,
    distinctive_tokens,
    intervention_effect,
    real_positions,
    similar_density_latent,
)
from arena_core.sae.monitor import LatentMonitor, fit_monitor, latent_aurocs, pooled_codes
from arena_core.transformer import Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

CFG = TransformerConfig(d_model=32, n_layers=3, n_heads=4, d_head=8, d_mlp=48, d_vocab=61, n_ctx=32)
HOOK = "blocks.1.hook_resid_post"


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(0)
    model = Llama(CFG.with_(n_kv_heads=2)).double().eval()
    tl = transformer_lens_twin(model, dtype=torch.float64)
    sae = ReluSAE(SAEConfig(d_in=32, d_sae=64), seed=1).double()
    with torch.no_grad():
        sae.b_enc.fill_(0.05)  # about half the latents fire: the ablation has something to remove
    sae.requires_grad_(False)
    return model, tl, sae


def _codes(sae, x):  # the ReLU SAE's code written out, independent of sae.encode
    return F.relu((x - sae.b_dec) @ sae.W_enc + sae.b_enc)


def test_latent_aurocs_match_sklearn_with_ties():
    g = torch.Generator().manual_seed(0)
    codes = F.relu(torch.randn(40, 30, generator=g)).round(decimals=1)  # many zeros and ties
    y = torch.arange(40) % 2
    got = latent_aurocs(codes, y, chunk=7)
    want = [roc_auc_score(y.numpy(), codes[:, j].numpy()) for j in range(30)]
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), atol=1e-12, rtol=0)


def test_a_planted_concept_latent_is_found_and_monitors_well():
    g = torch.Generator().manual_seed(1)
    n, m, planted = 200, 50, 17
    y = torch.arange(n) % 2
    codes = F.relu(torch.randn(n, m, generator=g) - 1.0)  # sparse background
    codes[:, planted] = F.relu(torch.randn(n, generator=g) * 0.3 + 1.5 * y)  # fires on concept
    codes[:, 3] = F.relu(torch.randn(n, generator=g) * 0.3 + 1.5 * (1 - y))  # anti-concept
    monitor, ranking = fit_monitor(codes[:100], y[:100], k=1)
    assert monitor.latents == (planted,)
    assert 3 not in ranking.top(5)  # a latent that fires *less* on the concept is never chosen
    scores = monitor.scores(codes[100:])
    assert roc_auc_score(y[100:].numpy(), scores.numpy()) > 0.95
    top3 = LatentMonitor(tuple(ranking.top(3)))
    torch.testing.assert_close(top3.scores(codes), codes[:, list(top3.latents)].double().sum(1))


def test_pooled_codes_match_an_unpadded_transformer_lens_forward(pair):
    model, tl, sae = pair
    rows = [[1, 5, 9, 2, 7, 3], [4, 4, 8, 1], [2, 9, 11, 30, 5, 6, 7]]
    spans = [(1, 6), (2, 4), (1, 5)]
    later = "blocks.2.hook_resid_post"
    got = pooled_codes(model, sae, rows, spans, HOOK, batch_size=2, massive=1e9, read_hooks=[later])
    fired, n_tok = torch.zeros(64), 0
    for i, (r, (s, e)) in enumerate(zip(rows, spans, strict=True)):
        _, cache = tl.run_with_cache(torch.tensor([r]))
        x = cache[HOOK][0, s:e]
        f = _codes(sae, x)
        torch.testing.assert_close(got.resid[i], x.mean(0).float(), atol=1e-5, rtol=0)
        torch.testing.assert_close(got.codes[i], f.mean(0).float(), atol=1e-5, rtol=0)
        want_later = cache[later][0, s:e].mean(0).float()
        torch.testing.assert_close(got.extra[later][i], want_later, atol=1e-5, rtol=0)
        fired += (f > 0).sum(0)
        n_tok += e - s
    assert got.n_tokens == n_tok
    torch.testing.assert_close(got.fired, fired.float())


def test_ablation_hook_removes_exactly_the_latents_share(pair):
    model, tl, sae = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 7))
    latents = [3, 10]
    seen = {}

    def tl_hook(x, hook):  # x − Σ f_i W_dec[i], written directly
        f = _codes(sae, x)
        return x - f[..., latents] @ sae.W_dec[latents]

    with torch.no_grad():
        want = tl.run_with_hooks(tokens, fwd_hooks=[(HOOK, tl_hook)])
        clean = tl(tokens)
        with ablate_latents(model, HOOK, sae, latents):
            model.hook_dict[HOOK].add_hook(lambda x, hook: seen.setdefault("x", x))
            got = model(tokens)
        model.reset_hooks()
        _, cache = tl.run_with_cache(tokens)
    torch.testing.assert_close(got, want, atol=1e-9, rtol=0)
    assert (got - clean).abs().max() > 1e-3  # the ablation changed the output
    x = cache[HOOK]
    f = _codes(sae, x)
    removed = x - seen["x"]
    for b in range(2):  # the residual lost f_3 W_dec[3] + f_10 W_dec[10] at every token
        for p in range(7):
            share = f[b, p, 3] * sae.W_dec[3] + f[b, p, 10] * sae.W_dec[10]
            torch.testing.assert_close(removed[b, p], share, atol=1e-12, rtol=0)


def test_ablation_respects_positions_and_runs_on_transformer_lens(pair):
    model, tl, sae = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 6))
    mask = torch.tensor([[0, 0, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1]])
    pos = real_positions(mask)
    assert pos.tolist() == [[False, False, False, True, True, True], [False] + [True] * 5]
    with torch.no_grad():
        theirs = tl.run_with_hooks(tokens, fwd_hooks=[(HOOK, ablation_hook(sae, [5], pos))])
        ours = model.run_with_hooks(tokens, fwd_hooks=[(HOOK, ablation_hook(sae, [5], pos))])
        clean = tl(tokens)
    torch.testing.assert_close(ours, theirs, atol=1e-9, rtol=0)
    torch.testing.assert_close(ours[0, :3], clean[0, :3], atol=1e-12, rtol=0)  # untouched columns


def test_steering_by_a_decoder_row_equals_adding_that_vector(pair):
    model, tl, sae = pair
    tokens = torch.randint(0, CFG.d_vocab, (2, 5))
    i, norm, alpha = 7, 3.0, 0.5
    v = decoder_direction(sae, i, norm).double()
    assert v.norm().item() == pytest.approx(norm)
    w = sae.W_dec[i]

    def tl_hook(x, hook):
        return x + alpha * norm * w / w.norm()

    with torch.no_grad():
        want = tl.run_with_hooks(tokens, fwd_hooks=[(HOOK, tl_hook)])
        with add_direction(model, HOOK, v, alpha):
            got = model(tokens)
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


def test_intervention_effect_matches_direct_formulas(pair):
    model, tl, sae = pair
    rows = [[1, 5, 9, 2, 7, 3], [4, 4, 8, 1]]
    spans = [(1, 6), (1, 4)]
    token_set = [5, 9, 40]
    got = intervention_effect(model, rows, spans, HOOK, lambda m: ablation_hook(sae, [3, 10]),
                              pad_id=0, token_set=token_set, batch_size=2)  # fmt: skip

    def tl_hook(x, hook):
        return x - _codes(sae, x)[..., [3, 10]] @ sae.W_dec[[3, 10]]

    nll0 = nll1 = mass0 = mass1 = kl = 0.0
    count = 0
    for r, (s, e) in zip(rows, spans, strict=True):
        t = torch.tensor([r])
        with torch.no_grad():
            lp0 = torch.log_softmax(tl(t)[0], -1)[s : e - 1]  # predictions of tokens s+1 .. e-1
            lp1 = torch.log_softmax(tl.run_with_hooks(t, fwd_hooks=[(HOOK, tl_hook)])[0], -1)
        lp1 = lp1[s : e - 1]
        target = t[0, s + 1 : e]
        nll0 += F.nll_loss(lp0, target, reduction="sum").item()
        nll1 += F.nll_loss(lp1, target, reduction="sum").item()
        mass0 += lp0.exp()[:, token_set].sum().item()
        mass1 += lp1.exp()[:, token_set].sum().item()
        kl += F.kl_div(lp1, lp0, log_target=True, reduction="sum").item()
        count += len(target)
    assert got.n_positions == count
    for name, want in (("nll_clean", nll0), ("nll", nll1), ("mass_clean", mass0),
                       ("mass", mass1), ("kl", kl)):  # fmt: skip
        assert getattr(got, name) == pytest.approx(want / count, rel=1e-6, abs=1e-12), name
    assert got.kl > 0


def test_similar_density_latent_and_distinctive_tokens():
    density = torch.tensor([0.1, 0.12, 0.5, 0.09, 0.0, 0.11])
    g = torch.Generator().manual_seed(0)
    picks = {similar_density_latent(density, 0, [1], g) for _ in range(30)}
    assert picks <= {3, 5} and picks  # within ±50 %, not itself, not excluded, not dead

    class Words:  # a whitespace "tokenizer": word -> its index in a fixed list
        vocab = "je vais the i will code".split()

        def __call__(self, text, add_special_tokens=False):
            return type("T", (), {"input_ids": [self.vocab.index(w) for w in text.split()]})

    got = distinctive_tokens(Words(), ["je vais", "je code"], ["i will code", "the code"])
    assert got == [0]  # "je" twice in the positives, never in the negatives; "vais" only once


def test_concept_splits_share_no_template_and_are_balanced():
    for concept in ("code", "french"):
        train, test = load_concept(concept, "train"), load_concept(concept, "test")
        assert not {r["template"] for r in train.records} & {r["template"] for r in test.records}
        assert not set(train.prompts) & set(test.prompts)
        for split in SPLITS[concept]:
            ds = load_concept(concept, split, n=8)
            assert sorted(ds.labels) == [0, 0, 0, 0, 1, 1, 1, 1]


def test_bad_inputs_raise_user_errors(pair):
    model, _, sae = pair
    with pytest.raises(ConceptError, match="unknown concept"):
        load_concept("sarcasm")
    with pytest.raises(ConceptError, match="unknown split"):
        load_concept("code", "french")
    with pytest.raises(SAEError, match="out of range"):
        decoder_direction(sae, 64)
    with pytest.raises(SAEError, match="out of range"):
        ablation_hook(sae, [0, -1])
    with pytest.raises(SAEError, match="out of range"):
        LatentMonitor((70,)).scores(torch.zeros(3, 64))
    with pytest.raises(SAEError, match="both classes"):
        latent_aurocs(torch.zeros(4, 3), torch.ones(4))
    with pytest.raises(SAEError, match="unknown hook"):
        pooled_codes(model, sae, [[1, 2]], [(1, 2)], "blocks.9.hook_resid_post")
    with pytest.raises(SAEError, match="fire more"):
        fit_monitor(torch.zeros(4, 3), torch.tensor([0, 1, 0, 1]), k=4)
    assert issubclass(SAEError, UserError) and issubclass(ConceptError, UserError)
