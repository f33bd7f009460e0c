"""Bracket strings (day 59): labels against a stack counter written here, the class mix, the
held-out set's disjointness, the token layout and round trip, and the errors."""

import pytest
import torch

from arena_core.data.brackets import (
    CLOSE,
    END,
    KINDS,
    N_CTX,
    OPEN,
    PAD,
    START,
    BracketData,
    BracketError,
    detokenize,
    elevation,
    generate,
    is_balanced,
    labels_from_tokens,
    tokenize,
)


def stack_balanced(s: str) -> bool:
    """Independent reference: push on "(", pop on ")", fail on popping an empty stack."""
    stack = []
    for c in s:
        if c == "(":
            stack.append(c)
        elif not stack:
            return False
        else:
            stack.pop()
    return not stack


def test_labels_agree_with_a_stack_on_every_short_string():
    import itertools

    strings = ["".join(p) for n in range(1, 11) for p in itertools.product("()", repeat=n)]
    want = torch.tensor([stack_balanced(s) for s in strings]).long()
    assert torch.equal(labels_from_tokens(tokenize(strings)), want)
    assert [is_balanced(s) for s in strings] == want.bool().tolist()
    # Catalan numbers: 1, 2, 5, 14, 42 balanced strings of length 2, 4, ..., 10
    lengths = torch.tensor([len(s) for s in strings])
    assert [int(want[lengths == n].sum()) for n in (2, 4, 6, 8, 10)] == [1, 2, 5, 14, 42]


def test_generated_labels_kinds_and_mix():
    batch = generate(4000, torch.Generator().manual_seed(3))
    strings = batch.strings
    assert torch.equal(batch.labels, torch.tensor([stack_balanced(s) for s in strings]).long())
    counts = torch.bincount(batch.kinds, minlength=len(KINDS)).tolist()
    assert counts == [2000, 800, 800, 400]
    for s, k in zip(strings, batch.kinds.tolist(), strict=True):
        opens, closes = s.count("("), s.count(")")
        if KINDS[k] == "balanced":
            assert stack_balanced(s)
        elif KINDS[k] == "negative_prefix":  # right count, but the elevation dips below 0
            assert opens == closes and min(elevation(s)) < 0
        elif KINDS[k] == "unequal_count":
            assert opens != closes
    assert 1 <= int(batch.lengths.min()) and int(batch.lengths.max()) == 40


def test_held_out_set_is_unique_and_disjoint_from_training():
    data = BracketData(seed=0, n_test=2000)
    test = set(data.test.strings)
    assert len(test) == 2000
    for _ in range(3):
        train = data.train_batch(1000).strings
        assert not test & set(train)
    # same seed, same held-out set
    assert BracketData(seed=0, n_test=2000).test.strings == data.test.strings


def test_token_layout_and_round_trip():
    strings = ["()", "(()))(", ")", "(" * 40]
    tokens = tokenize(strings)
    assert tokens.shape == (4, N_CTX)
    assert tokens[0].tolist()[:5] == [START, OPEN, CLOSE, END, PAD]
    assert tokens[3, -1].item() == END and (tokens[:, 0] == START).all()
    assert detokenize(tokens) == strings
    batch = generate(300, torch.Generator().manual_seed(1))
    assert torch.equal(tokenize(batch.strings), batch.tokens)


@pytest.mark.parametrize("bad", ["(x)", "[]", "(" * 41])
def test_bad_strings_raise(bad):
    with pytest.raises(BracketError):
        tokenize([bad])
    with pytest.raises(BracketError):
        elevation(bad)


def test_bad_mix_raises():
    with pytest.raises(BracketError):
        generate(10, torch.Generator(), mix=(1.0, 0.0))


def test_short_balanced_strings_stay_in_training():
    import itertools

    data = BracketData(seed=0, n_test=2000)
    short = ["".join(p) for n in (2, 4, 6) for p in itertools.product("()", repeat=n)]
    short = [s for s in short if stack_balanced(s)]  # 1 + 2 + 5 strings
    train = set(data.train_batch(20000).strings)
    held = set(data.test.strings)
    in_train = [s for s in short if s in train]
    assert len(in_train) >= 6 and not set(in_train) & held
