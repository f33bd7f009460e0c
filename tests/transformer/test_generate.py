"""Batched generation: KV cache vs recomputation, left padding vs one prompt at a time, stop tokens,
and greedy decoding vs HuggingFace `generate(do_sample=False)` on random-weight HF models.

The models: a hand-made one-layer attention LM written here (independent of arena_core's models),
and tiny random `GPT2` / `Llama` from `arena_core.transformer`, all in float64 so that "the same
computation" agrees to ~1e-12 and greedy argmaxes cannot flip on rounding noise.
"""

import math

import pytest
import torch
from torch import nn

from arena_core.transformer import GPT2, Llama, TransformerConfig
from arena_core.transformer.generate import GREEDY, generate, left_pad
from arena_core.transformer.sampling import SamplingConfig
from arena_core.transformer.weights import gpt2_state_dict_from_hf, llama_state_dict_from_hf

VOCAB = 23


class ToyCache:
    def __init__(self):
        self.k: torch.Tensor | None = None
        self.v: torch.Tensor | None = None
        self.mask: torch.Tensor | None = None


class ToyLM(nn.Module):
    """One attention layer + MLP; positions counted from the first real token (cumsum of mask)."""

    def __init__(self, vocab=VOCAB, d=16, n_ctx=64):
        super().__init__()
        self.emb, self.pos = nn.Embedding(vocab, d), nn.Embedding(n_ctx, d)
        self.q, self.k, self.v, self.o = (nn.Linear(d, d) for _ in range(4))
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))
        self.out = nn.Linear(d, vocab)

    def forward(self, tokens, attention_mask=None, kv_cache=None):
        b, n = tokens.shape
        past = 0 if kv_cache is None or kv_cache.k is None else kv_cache.k.shape[1]
        if attention_mask is None:
            attention_mask = torch.ones(b, past + n, dtype=torch.long)
        positions = (attention_mask.cumsum(-1) - 1).clamp(min=0)[:, past:]
        x = self.emb(tokens) + self.pos(positions)
        q, k, v = self.q(x), self.k(x), self.v(x)
        if kv_cache is not None:
            if kv_cache.k is not None:
                k, v = torch.cat([kv_cache.k, k], 1), torch.cat([kv_cache.v, v], 1)
            kv_cache.k, kv_cache.v = k, v
        scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])
        query_pos = torch.arange(past, past + n)[:, None]
        allowed = (torch.arange(past + n)[None] <= query_pos) & attention_mask.bool()[:, None]
        allowed |= torch.arange(past + n)[None] == query_pos
        x = x + self.o(scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v)
        return self.out(x + self.mlp(x))


def toy_model():
    return ToyLM().double(), lambda batch: ToyCache()


def gpt2_model():
    cfg = TransformerConfig(
        d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=64, d_vocab=VOCAB, n_ctx=64
    )
    return GPT2(cfg).double(), None


def llama_model():
    cfg = TransformerConfig(
        d_model=32, n_layers=2, n_heads=4, n_kv_heads=2, d_head=8, d_mlp=48, d_vocab=VOCAB, n_ctx=64
    )
    model = Llama(cfg).double()
    with torch.no_grad():  # the default init is tiny; larger weights give peakier, varied logits
        for p in model.parameters():
            p.mul_(4.0)
    return model, None


MODELS = {"toy": toy_model, "gpt2": gpt2_model, "llama": llama_model}
PROMPTS = [[3, 7, 1, 9, 2], [5], [8, 8, 4], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]]


def test_left_pad():
    tokens, mask = left_pad([[1, 2, 3], [4]], pad_token_id=0)
    assert tokens.tolist() == [[1, 2, 3], [0, 0, 4]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1]]


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("sampling", [GREEDY, SamplingConfig(temperature=0.9, top_k=8, top_p=0.9)])
def test_cache_equals_no_cache(name, sampling):
    model, make_cache = MODELS[name]()
    runs = [
        generate(
            model,
            PROMPTS,
            max_new_tokens=10,
            sampling=sampling,
            use_cache=use_cache,
            make_cache=make_cache,
            generator=torch.Generator().manual_seed(7),
            return_logits=True,
        )
        for use_cache in (True, False)
    ]
    assert runs[0].new_tokens == runs[1].new_tokens
    assert torch.equal(runs[0].sequences, runs[1].sequences)
    # float64: the cached and recomputed paths do the same arithmetic in a different grouping
    torch.testing.assert_close(runs[0].logits, runs[1].logits, atol=1e-10, rtol=1e-10)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("use_cache", [True, False])
def test_left_padded_batch_equals_one_by_one(name, use_cache):
    model, make_cache = MODELS[name]()
    batched = generate(
        model, PROMPTS, 8, use_cache=use_cache, make_cache=make_cache, return_logits=True
    )
    for row, prompt in enumerate(PROMPTS):
        single = generate(
            model, [prompt], 8, use_cache=use_cache, make_cache=make_cache, return_logits=True
        )
        assert batched.new_tokens[row] == single.new_tokens[0]
        torch.testing.assert_close(batched.logits[row], single.logits[0], atol=1e-10, rtol=1e-10)


def _greedy_reference(model, prompt, n):
    """Plain loop: run the full unpadded sequence, take the argmax of the last position."""
    seq = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            seq.append(int(model(torch.tensor([seq]))[0, -1].argmax()))
    return seq[len(prompt) :]


@pytest.mark.parametrize("name", MODELS)
def test_greedy_matches_plain_loop(name):
    model, make_cache = MODELS[name]()
    out = generate(model, PROMPTS, 9, make_cache=make_cache)
    for row, prompt in enumerate(PROMPTS):
        assert out.new_tokens[row] == _greedy_reference(model, prompt, 9)


def test_stop_tokens_and_min_new_tokens():
    model, make_cache = toy_model()
    free = generate(model, PROMPTS, 12, make_cache=make_cache)
    # pick a stop token that occurs in the middle of some free-running output
    stop = next(toks[3] for toks in free.new_tokens if len(toks) > 3)
    stopped = generate(model, PROMPTS, 12, stop_tokens=[stop], make_cache=make_cache)
    for free_row, got in zip(free.new_tokens, stopped.new_tokens, strict=True):
        expected = free_row[: free_row.index(stop) + 1] if stop in free_row else free_row
        assert got == expected
    forced = generate(
        model, PROMPTS, 12, min_new_tokens=6, stop_tokens=[stop], make_cache=make_cache
    )
    for row in forced.new_tokens:
        assert stop not in row[:6]
        assert len(row) >= 6 and (row[-1] == stop or len(row) == 12)
        assert row.count(stop) <= 1


def test_seeded_sampling_is_reproducible():
    model, make_cache = toy_model()
    cfg = SamplingConfig(temperature=1.3, frequency_penalty=0.5, presence_penalty=0.2)
    a, b = (
        generate(
            model,
            PROMPTS,
            10,
            sampling=cfg,
            make_cache=make_cache,
            generator=torch.Generator().manual_seed(3),
        )
        for _ in range(2)
    )
    assert a.new_tokens == b.new_tokens


@pytest.mark.parametrize(
    "family,repetition_penalty", [("gpt2", 1.0), ("llama", 1.0), ("gpt2", 1.5)]
)
def test_greedy_matches_hf_generate(family, repetition_penalty):
    transformers = pytest.importorskip("transformers")
    if family == "gpt2":
        hf_cfg = transformers.GPT2Config(
            vocab_size=97, n_positions=64, n_embd=32, n_layer=2, n_head=4, n_inner=None
        )
        hf = transformers.GPT2LMHeadModel(hf_cfg).double().eval()
        from arena_core.transformer.weights import gpt2_config_from_hf

        cfg = gpt2_config_from_hf(hf_cfg)
        ours = GPT2(cfg, init=False)
        ours.load_state_dict(gpt2_state_dict_from_hf(hf.state_dict(), cfg), strict=False)
    else:
        hf_cfg = transformers.LlamaConfig(
            vocab_size=97,
            hidden_size=32,
            intermediate_size=48,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=64,
            tie_word_embeddings=True,
        )
        hf = transformers.LlamaForCausalLM(hf_cfg).double().eval()
        from arena_core.transformer.weights import llama_config_from_hf

        cfg = llama_config_from_hf(hf_cfg)
        ours = Llama(cfg, init=False)
        ours.load_state_dict(llama_state_dict_from_hf(hf.state_dict(), cfg), strict=False)
    ours = ours.double().eval()
    prompts = [[5, 17, 3, 90, 41, 8], [12, 60], [33, 2, 2, 71]]
    tokens, mask = left_pad(prompts, pad_token_id=0)
    with torch.no_grad():
        expected = hf.generate(
            input_ids=tokens,
            attention_mask=mask,
            do_sample=False,
            max_new_tokens=12,
            min_new_tokens=12,
            pad_token_id=0,
            eos_token_id=None,
            repetition_penalty=repetition_penalty,
        )[:, tokens.shape[1] :]
    ours_out = generate(
        ours,
        prompts,
        12,
        sampling=SamplingConfig(temperature=0.0, repetition_penalty=repetition_penalty),
    )
    assert [row for row in ours_out.new_tokens] == expected.tolist()


def test_context_overflow_is_a_clear_error():
    model, _ = gpt2_model()  # n_ctx = 64
    with pytest.raises(ValueError, match="context"):
        generate(model, [[1] * 60], max_new_tokens=5)


def test_frequency_presence_penalty_greedy_matches_manual_loop():
    """Greedy with OpenAI penalties: a plain loop applies mu - c*a_f - [c>0]*a_p to raw logits."""
    model, make_cache = toy_model()
    a_f, a_p = 0.8, 0.5
    cfg = SamplingConfig(temperature=0.0, frequency_penalty=a_f, presence_penalty=a_p)
    out = generate(model, PROMPTS, 10, sampling=cfg, make_cache=make_cache)
    for row, prompt in enumerate(PROMPTS):
        seq, generated = list(prompt), []
        with torch.no_grad():
            for _ in range(10):
                logits = model(torch.tensor([seq]))[0, -1].clone()
                for j in set(generated):
                    logits[j] -= generated.count(j) * a_f + a_p
                generated.append(int(logits.argmax()))
                seq.append(generated[-1])
        assert out.new_tokens[row] == generated
