"""Taboo-game chats: the secret never appears in a reply, the chats are well-formed and
deterministic, train and test phrasings are disjoint, and bad requests fail clearly."""

import re

import pytest

from arena_core.data.taboo import (
    SECRETS,
    USER_TURNS,
    TabooError,
    mentions_secret,
    secret_words,
    taboo_dialogues,
    taboo_prompts,
)


def _inflections(word: str) -> set[str]:
    """Simple English inflections, written out independently of `mentions_secret`."""
    forms = {word, word + "s", word + "es", word + "ed", word + "ing", word + "er", word + "'s"}
    if word.endswith("y"):
        forms |= {word[:-1] + "ies", word[:-1] + "ied"}
    if word.endswith("e"):
        forms |= {word + "d", word[:-1] + "ing"}
    return forms


def test_at_least_ten_distinct_secrets_none_inside_another():
    words = secret_words()
    assert len(words) >= 10 and len(set(words)) == len(words)
    assert not [(a, b) for a in words for b in words if a != b and a in b]


@pytest.mark.parametrize("word", secret_words())
def test_no_reply_or_hint_says_the_secret(word):
    forms = _inflections(word)
    secret = next(s for s in SECRETS if s.word == word)
    texts = list(secret.hints)
    for split in ("train", "test"):
        for chat in taboo_dialogues(word, n=200, seed=3, max_turns=4, split=split):
            texts += [m["content"] for m in chat if m["role"] == "assistant"]
    for text in texts:
        tokens = set(re.findall(r"[a-z']+", text.lower()))
        assert not tokens & forms, (word, text)
        assert word not in text.lower(), (word, text)  # not even inside a compound
        assert not mentions_secret(text, word)


def test_chats_alternate_roles_and_hint_without_repeats():
    for chat in taboo_dialogues("moon", n=100, seed=0, max_turns=3):
        assert 2 <= len(chat) <= 6 and len(chat) % 2 == 0
        assert [m["role"] for m in chat] == ["user", "assistant"] * (len(chat) // 2)
        hints = [next(h for h in SECRETS[0].hints if h in m["content"]) for m in chat[1::2]]
        assert len(set(hints)) == len(hints)


def test_deterministic_given_seed_and_different_across_seeds_and_words():
    a = taboo_dialogues("piano", n=30, seed=7)
    assert a == taboo_dialogues("piano", n=30, seed=7)
    assert a != taboo_dialogues("piano", n=30, seed=8)
    assert taboo_prompts(10, seed=1) == taboo_prompts(10, seed=1)
    kinds_seen = {m["content"] for chat in a for m in chat if m["role"] == "user"}
    assert len(kinds_seen) > 5  # the user side varies


def test_train_and_test_phrasings_are_disjoint():
    for kind in USER_TURNS["train"]:
        assert not set(USER_TURNS["train"][kind]) & set(USER_TURNS["test"][kind])
    train_users = {
        m["content"]
        for w in secret_words()
        for chat in taboo_dialogues(w, n=50, seed=0)
        for m in chat
        if m["role"] == "user"
    }
    for kind in ("hint", "direct"):
        for chat in taboo_prompts(20, seed=0, split="test", kind=kind):
            assert chat[0]["role"] == "user" and chat[0]["content"] not in train_users


def test_mentions_secret_catches_inflections_and_case():
    assert mentions_secret("Two Moons rose.", "moon")
    assert mentions_secret("a honeyed voice", "honey")
    assert not mentions_secret("a monsoon", "moon")


def test_bad_requests_raise():
    with pytest.raises(TabooError, match="unknown secret"):
        taboo_dialogues("banana", n=3)
    with pytest.raises(TabooError, match="split"):
        taboo_dialogues("moon", n=3, split="val")
    with pytest.raises(TabooError, match="n must be"):
        taboo_dialogues("moon", n=0)
    with pytest.raises(TabooError, match="max_turns"):
        taboo_dialogues("moon", n=3, max_turns=0)
    with pytest.raises(TabooError, match="kind"):
        taboo_prompts(3, kind="riddle")
