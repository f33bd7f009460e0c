"""ICL prompts (structure checked by parsing them back), the answer token, first-token accuracy
on left-padded batches against TransformerLens run prompt by prompt without padding, and hooks
attached for one call leaving other hooks alone."""

import pytest
import torch

from arena_core.data.facts import load_dataset
from arena_core.models.tokenizers import smollm2_tokenizer
from arena_core.probes.icl import (
    PAIR_TASKS,
    ICLSpecError,
    answer_token_ids,
    attached,
    first_token_accuracy,
    icl_prompts,
    score_first_token,
    split_pairs,
)
from arena_core.probes.steering import add_direction
from arena_core.transformer import Llama, TransformerConfig
from arena_core.transformer.tl_twin import transformer_lens_twin

pytestmark = pytest.mark.usefixtures("one_thread")  # tiny models: see conftest


PAIRS = [(f"x{i}", f"y{i}") for i in range(20)]


def _parse(prompt: str) -> list[tuple[str, str | None]]:
    """Back from text to (input, label) blocks; the last block is the open query."""
    blocks = prompt.split("\n\n")
    out = []
    for b in blocks:
        q, a = b.split("\n")
        assert q.startswith("Q: ") and a.startswith("A:")
        out.append((q[3:], a[3:] if len(a) > 2 else None))
    return out


def test_prompt_versions_share_demos_and_query():
    p = icl_prompts(PAIRS, n_prompts=8, n_shots=4, seed=3)
    truth = dict(PAIRS)
    assert len(p) == 8 and len(set(p.queries)) == 8
    for few, shuf, zero, q, a in zip(p.few_shot, p.shuffled, p.zero_shot, p.queries, p.answers):
        f, s = _parse(few), _parse(shuf)
        assert len(f) == 5 and f[-1] == (q, None) and s[-1] == (q, None)
        assert truth[q] == a and zero == f"Q: {q}\nA:"
        assert all(truth[x] == y for x, y in f[:-1]) and q not in [x for x, _ in f[:-1]]
        assert [x for x, _ in s[:-1]] == [x for x, _ in f[:-1]]  # same inputs, same order
        assert sorted(y for _, y in s[:-1]) == sorted(y for _, y in f[:-1])  # same labels
        assert all(truth[x] != y for x, y in s[:-1])  # none keeps its own label
    assert icl_prompts(PAIRS, 8, 4, seed=3) == p and icl_prompts(PAIRS, 8, 4, seed=4) != p


def test_split_pairs_is_a_partition():
    parts = split_pairs(PAIRS, (0.5, 0.25, 0.25), seed=1)
    assert [len(x) for x in parts] == [10, 5, 5]
    assert sorted(sum(parts, [])) == sorted(PAIRS)


def test_every_pair_task_makes_prompts_with_a_real_answer_token():
    tok = smollm2_tokenizer()
    for name in PAIR_TASKS:
        ds = load_dataset(name, seed=0, n=30)
        p = icl_prompts(ds.pairs(), n_prompts=4, n_shots=3, seed=0)
        ids = answer_token_ids(tok, p.answers)
        for i, a in zip(ids.tolist(), p.answers):  # the id decodes to the answer's beginning
            piece = tok.decode([i])
            assert piece.strip() and (" " + a).startswith(piece), (name, a, piece)


def test_bad_requests_raise_clear_errors():
    with pytest.raises(ICLSpecError, match="n_shots"):
        icl_prompts(PAIRS, 2, 1)
    with pytest.raises(ICLSpecError, match="cannot make"):
        icl_prompts(PAIRS[:3], 2, 3)
    with pytest.raises(ICLSpecError, match="fractions"):
        split_pairs(PAIRS, (0.5, 0.6))
    with pytest.raises(ICLSpecError, match="answers"):
        score_first_token(torch.zeros(3, 5), torch.zeros(2, dtype=torch.long))


@pytest.fixture(scope="module")
def pair():
    torch.manual_seed(1)
    cfg = TransformerConfig(d_model=32, n_layers=2, n_heads=4, d_head=8, d_mlp=48, d_vocab=23,
                            n_ctx=32, n_kv_heads=2, rotary_base=500.0)  # fmt: skip
    model = Llama(cfg).double().eval()
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(3.0)
    return model, transformer_lens_twin(model, dtype=torch.float64)


def test_first_token_accuracy_matches_unpadded_transformer_lens(pair):
    model, tl = pair
    g = torch.Generator().manual_seed(0)
    rows = [torch.randint(1, 23, (n,), generator=g).tolist() for n in (4, 9, 6, 7, 5, 8)]
    logits = torch.stack([tl(torch.tensor([r]))[0, -1] for r in rows])
    answers = logits.argmax(-1).clone()
    answers[::2] = (answers[::2] + 1) % 23  # half right, half wrong
    score = first_token_accuracy(model, rows, answers, batch_size=4)
    assert score.correct == [False, True] * 3 and score.accuracy == 0.5
    p = logits.softmax(-1).gather(-1, answers[:, None]).mean()
    assert score.p_correct == pytest.approx(p.item(), abs=1e-9)


def test_attached_hooks_leave_a_steering_hook_in_place(pair):
    model, _ = pair
    rows, answers = [[1, 2, 3], [4, 5]], torch.tensor([1, 2])
    seen = []
    direction = torch.ones(32, dtype=torch.float64)
    with add_direction(model, "blocks.0.hook_resid_post", direction, 5.0):
        steered = first_token_accuracy(model, rows, answers).p_correct
        again = first_token_accuracy(
            model,
            rows,
            answers,
            fwd_hooks=[("blocks.1.hook_resid_post", lambda x, h: seen.append(1))],
        ).p_correct
    assert steered == again and seen  # both hooks ran, the steering one was not removed
    assert first_token_accuracy(model, rows, answers).p_correct != steered
    with pytest.raises(ICLSpecError, match="no hook point"):
        with attached(model, [("nope", lambda x, h: x)]):
            pass
    assert not model.hook_dict["blocks.0.hook_resid_post"].hooks
