"""Fact datasets built offline from pip-shipped facts and our own word lists (nothing downloaded).

    from arena_core.data.facts import load_dataset, available
    ds = load_dataset("cities", seed=0, n=200)   # FactDataset: .prompts, .labels, .meta, .records
    ds.prompts[0], ds.labels[0]                  # e.g. ('The city of Osaka is in Japan.', 1)

Three kinds (`ds.meta["kind"]`):
- "true_false" statements for probing (day 39, Marks & Tegmark 2023, "The Geometry of Truth"):
  cities, negations, capitals, larger_than, larger_than_digits, antonyms_tf; label 1 = true.
- "classification" of single words: first_names (1 male), sentiment_words (1 positive).
- "pair" tasks for in-context learning and function vectors (days 42-44, Todd et al. 2023):
  antonyms, country_capital, uppercase, english_french, present_past, first_name_initial; the
  label is the target string.

Every loader is deterministic given `seed`, takes `n` (None = all that can be made) and raises a
clear error when asked for more. `sentiment_score(text)` scores generated text (day 44).
"""

from collections.abc import Callable

from arena_core.data.facts.antonyms import ANTONYM_PAIRS, load_antonyms, load_antonyms_tf
from arena_core.data.facts.dataset import FactDataset
from arena_core.data.facts.first_names import load_first_name_initial, load_first_names
from arena_core.data.facts.geography import (
    load_capitals,
    load_cities,
    load_country_capital,
    load_negations,
)
from arena_core.data.facts.larger_than import (
    load_larger_than,
    load_larger_than_digits,
    number_to_words,
)
from arena_core.data.facts.sentiment import load_sentiment_words, sentiment_score
from arena_core.data.facts.words import (
    ENGLISH_FRENCH,
    PRESENT_PAST,
    load_english_french,
    load_present_past,
    load_uppercase,
)
from arena_core.errors import UserError

_LOADERS: dict[str, Callable[..., FactDataset]] = {
    "cities": load_cities,
    "negations": load_negations,
    "capitals": load_capitals,
    "larger_than": load_larger_than,
    "larger_than_digits": load_larger_than_digits,
    "antonyms_tf": load_antonyms_tf,
    "first_names": load_first_names,
    "sentiment_words": load_sentiment_words,
    "antonyms": load_antonyms,
    "country_capital": load_country_capital,
    "uppercase": load_uppercase,
    "english_french": load_english_french,
    "present_past": load_present_past,
    "first_name_initial": load_first_name_initial,
}


class UnknownDatasetError(UserError, KeyError):
    """A dataset name that is not in the registry."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


def available() -> list[str]:
    """The names `load_dataset` accepts, sorted."""
    return sorted(_LOADERS)


def load_dataset(name: str, seed: int = 0, n: int | None = None, **kwargs) -> FactDataset:
    """The dataset `name` (see `available()`); extra keyword arguments go to its loader."""
    if name not in _LOADERS:
        raise UnknownDatasetError(
            f"unknown fact dataset {name!r}; available: {', '.join(available())}"
        )
    return _LOADERS[name](seed=seed, n=n, **kwargs)


__all__ = [
    "ANTONYM_PAIRS",
    "ENGLISH_FRENCH",
    "PRESENT_PAST",
    "FactDataset",
    "UnknownDatasetError",
    "available",
    "load_dataset",
    "number_to_words",
    "sentiment_score",
]
