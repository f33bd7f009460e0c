"""Words in templates and restated city statements: counts, order, labels and records by hand."""

import pytest

from arena_core.data.facts import load_dataset
from arena_core.data.facts.templates import in_templates, restate
from arena_core.errors import ArgumentError


def test_in_templates_places_each_word_last_in_each_template():
    ds = load_dataset("first_names", seed=0, n=6)
    out = in_templates(ds, ["I met {}", "A letter for {}"])
    assert len(out) == 12 and out.meta["n"] == 12
    for i, (word, label) in enumerate(ds.pairs()):
        assert out.prompts[2 * i] == f"I met {word}"
        assert out.prompts[2 * i + 1] == f"A letter for {word}"
        assert out.labels[2 * i] == out.labels[2 * i + 1] == label
        assert out.records[2 * i] == {"type": word, "template": 0}


def test_restate_keeps_facts_and_labels():
    ds = load_dataset("cities", seed=0, n=10)
    out = restate(ds, "{city} is a city in {where}.")
    assert out.labels == ds.labels
    for a, b in zip(ds.prompts, out.prompts, strict=True):
        # "The city of X is in Y." -> "X is a city in Y."
        assert a.removeprefix("The city of ").replace(" is in ", " is a city in ") == b


def test_bad_inputs_raise_user_errors():
    with pytest.raises(ArgumentError, match="classification"):
        in_templates(load_dataset("cities", n=4), ["{}"])
    with pytest.raises(ArgumentError, match="end with"):
        in_templates(load_dataset("first_names", n=4), ["{} is here"])
    with pytest.raises(ArgumentError, match="city statements"):
        restate(load_dataset("first_names", n=4), "{city}")
    with pytest.raises(ArgumentError, match="only use"):
        restate(load_dataset("cities", n=4), "{town} is in {where}.")
