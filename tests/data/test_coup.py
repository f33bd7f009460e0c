"""The coup-probe dataset: labels follow the action table, classes are balanced, sampling is
deterministic, and no template or slot filler of the training format leaks into a test format."""

import re

import pytest

from arena_core.data.coup import (
    FORMATS,
    REQUESTS,
    SHIFTS,
    TEST_FILLERS,
    TRAIN_FILLERS,
    CoupFormatError,
    available_per_class,
    coup_requests,
    load_coup,
)
from arena_core.data.coup_actions import ACTIONS
from arena_core.errors import ArgumentError, UserError


def test_action_table_pairs_harmful_with_benign_twins():
    kinds = {a.kind for a in ACTIONS}
    for kind in kinds:
        labels = [a.label for a in ACTIONS if a.kind == kind]
        assert labels.count(1) == labels.count(0) >= 1, kind
    for a in ACTIONS:  # every field is filled and uses only known slots
        for field in ("en", "past", "cmd", "fr", "es"):
            text = getattr(a, field)
            assert text and set(re.findall(r"{(\w+)}", text)) <= {"host", "model"}, text


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_labels_match_the_action_table_and_are_balanced(fmt):
    ds = load_coup(fmt, seed=3, n=40)
    assert len(ds) == 40 and sum(ds.labels) == 20
    field, _ = FORMATS[fmt]
    for text, label, rec in zip(ds.prompts, ds.labels, ds.records, strict=True):
        action = ACTIONS[rec["action"]]
        assert label == action.label
        # the action's phrase, with its slots filled, is inside the text
        pattern = re.escape(getattr(action, field))
        pattern = re.sub(r"\\{(host|model)\\}", r"[\\w-]+", pattern)
        assert re.search(pattern, text), (text, getattr(action, field))


def test_deterministic_and_seed_dependent():
    a, b = load_coup("train", seed=1, n=30), load_coup("train", seed=1, n=30)
    c = load_coup("train", seed=2, n=30)
    assert a.prompts == b.prompts and a.labels == b.labels
    assert a.prompts != c.prompts
    assert len(set(load_coup("train", n=None).prompts)) == 2 * available_per_class("train")


def _skeleton(text: str, fmt: str) -> str:
    """The template that made a text (its text before and after the action phrase)."""
    field, templates = FORMATS[fmt]
    for t in templates:
        pre, post = t.format(x="\0").split("\0")
        if text.startswith(pre) and text.endswith(post):
            return t
    raise AssertionError(f"no template of {fmt} makes {text!r}")


def test_no_template_or_filler_leaks_from_train_to_test():
    train = load_coup("train", n=None)
    train_templates = {_skeleton(t, "train") for t in train.prompts}
    assert train_templates == set(FORMATS["train"][1])
    for fmt in SHIFTS:
        ds = load_coup(fmt, n=None)
        assert not set(ds.prompts) & set(train.prompts), fmt
        assert not {_skeleton(t, fmt) for t in ds.prompts} & train_templates, fmt
        for slot, values in TRAIN_FILLERS.items():
            for v in values:  # a training host or model name never shows up in a test text
                assert not any(v in t for t in ds.prompts), (fmt, v)
    for slot in TRAIN_FILLERS:
        assert not set(TRAIN_FILLERS[slot]) & set(TEST_FILLERS[slot])
    for style in REQUESTS:
        reqs = coup_requests(style, n=None)
        assert not any(v in t for v in TRAIN_FILLERS["host"] for t in reqs.prompts)


def test_requests_are_labelled_by_action():
    ds = coup_requests("french", seed=0, n=10)
    assert sum(ds.labels) == 5
    for text, rec, label in zip(ds.prompts, ds.records, ds.labels, strict=True):
        assert label == ACTIONS[rec["action"]].label and "Je vais" in text


def test_clear_errors():
    with pytest.raises(CoupFormatError, match="formats"):
        load_coup("klingon")
    with pytest.raises(UserError, match="styles"):
        coup_requests("opera")
    with pytest.raises(ArgumentError, match="only"):
        load_coup("report", n=10_000)
