"""IOI prompts: exact token alignment under two real tokenizers, balanced orders and templates,
corruptions that keep every position, and clear errors."""

import pytest

from arena_core.data.ioi import (
    TEMPLATES,
    IOIError,
    corrupt,
    ioi_dataset,
    ioi_names,
)
from arena_core.errors import UserError
from arena_core.models import gpt2_tokenizer, smollm2_tokenizer


@pytest.fixture(scope="module", params=["smollm2", "gpt2"])
def tok_bos(request):
    if request.param == "smollm2":
        return smollm2_tokenizer(), None
    tok = gpt2_tokenizer()
    return tok, tok.bos_token_id


def test_tokens_and_positions_match_the_tokenizer(tok_bos):
    tok, bos = tok_bos
    d = ioi_dataset(tok, 48, seed=1, bos=bos)
    assert len(d) == 48
    for p, t, pos, io, s in zip(d.prompts, d.tokens, d.positions, d.io_ids, d.s_ids, strict=True):
        expected = tok(p.text, add_special_tokens=False)["input_ids"]
        assert t == ([] if bos is None else [bos]) + expected  # the tokenizer's own encoding
        assert tok.decode([t[pos["IO"]]]) == " " + p.io and t[pos["IO"]] == io
        assert tok.decode([t[pos["S1"]]]) == " " + p.s == tok.decode([t[pos["S2"]]])
        assert t[pos["S1"]] == t[pos["S2"]] == s
        assert pos["end"] == len(t) - 1 and tok.decode([t[-1]]).strip() in ("to",)
        assert (pos["IO"] < pos["S1"]) == (p.order == "ABBA") and pos["S2"] > max(
            pos["IO"], pos["S1"]
        )
        assert p.io != p.s


def test_orders_and_templates_are_balanced_and_seeded(tok_bos):
    tok, bos = tok_bos
    n = 4 * len(TEMPLATES)
    d = ioi_dataset(tok, n, seed=0, bos=bos)
    assert [p.order for p in d.prompts].count("ABBA") == n // 2
    assert {p.template for p in d.prompts} == set(range(len(TEMPLATES)))
    again = ioi_dataset(tok, n, seed=0, bos=bos)
    assert [p.text for p in again.prompts] == [p.text for p in d.prompts]
    other = ioi_dataset(tok, n, seed=1, bos=bos)
    assert [p.text for p in other.prompts] != [p.text for p in d.prompts]
    only = ioi_dataset(tok, 6, orders=("BABA",), templates=(2,), bos=bos)
    assert {(p.order, p.template) for p in only.prompts} == {("BABA", 2)}
    # same template -> same length and same columns
    assert (
        len({len(t) for t in only.tokens}) == 1
        and len({tuple(q.items()) for q in only.positions}) == 1
    )


def test_names_are_single_tokens(tok_bos):
    tok, _ = tok_bos
    names = ioi_names(tok, 60)
    assert len(names) == 60 and len(set(names)) == 60
    assert all(len(tok(" " + n, add_special_tokens=False)["input_ids"]) == 1 for n in names)


def test_corruptions_keep_positions_and_change_only_names(tok_bos):
    tok, bos = tok_bos
    d = ioi_dataset(tok, 24, seed=3, bos=bos)
    flip = corrupt(tok, d, "flip_s2", bos=bos)
    abc = corrupt(tok, d, "abc", seed=3, bos=bos)
    for clean, f, a in zip(d.tokens, flip.tokens, abc.tokens, strict=True):
        assert len(clean) == len(f) == len(a)
    for i, pos in enumerate(d.positions):
        assert flip.positions[i] == abc.positions[i] == pos
        # flip_s2: only the S2 column changes, to the IO token
        diff = [
            j for j, (x, y) in enumerate(zip(d.tokens[i], flip.tokens[i], strict=True)) if x != y
        ]
        assert diff == [pos["S2"]] and flip.tokens[i][pos["S2"]] == d.io_ids[i]
        # abc: only name columns change, and no name repeats
        diff = {
            j for j, (x, y) in enumerate(zip(d.tokens[i], abc.tokens[i], strict=True)) if x != y
        }
        assert diff <= {pos["IO"], pos["S1"], pos["S2"]}
        names = {abc.tokens[i][pos[k]] for k in ("IO", "S1", "S2")}
        assert len(names) == 3
    assert (
        sum(p.io != q.io for p, q in zip(d.prompts, abc.prompts, strict=True)) > 12
    )  # fresh names


def test_bad_requests_raise_user_errors():
    tok = smollm2_tokenizer()
    for kwargs in ({"n": 0}, {"n": 4, "orders": ("AABB",)}, {"n": 4, "templates": (99,)},
                   {"n": 4, "orders": ()}):  # fmt: skip
        with pytest.raises(IOIError):
            ioi_dataset(tok, **kwargs)
    d = ioi_dataset(tok, 2)
    with pytest.raises(IOIError, match="unknown corruption"):
        corrupt(tok, d, "shuffle")
    assert issubclass(IOIError, UserError)
