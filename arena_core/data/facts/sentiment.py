"""Sentiment words from the VADER lexicon (`vaderSentiment`, MIT), and a lexicon sentiment score.

VADER (Hutto & Gilbert, ICWSM 2014) ships `vader_lexicon.txt`: 7,520 tokens, each with the mean
valence (-4 .. +4) that ten human raters gave it. We use it two ways:

- `sentiment_words`: words with |valence| >= threshold, 1 positive / 0 negative, balanced; the
  " Love" - " Hate" style contrast pairs and probe targets of day 44 (Turner et al., "Activation
  Addition", 2023, https://arxiv.org/abs/2308.10248).
- `sentiment_score(text)`: the mean lexicon valence of the words of a text, the cheap scorer of
  day 44's dose-response curve for steered continuations.

Only the lexicon file is read (the analyzer's rules for negation and emphasis are not used), so the
score is a plain bag-of-words number; say so when you report it.
"""

import functools
import math
import random
import re
from pathlib import Path

from arena_core.data.facts.dataset import FactDataset, build, check_n, package_source
from arena_core.data.sources import DataUnavailableError
from arena_core.errors import ArgumentError

_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")


def lexicon_path() -> Path:
    try:
        import vaderSentiment
    except ImportError as err:
        raise DataUnavailableError(
            "sentiment words need the PyPI package vaderSentiment: pip install vaderSentiment"
        ) from err
    return Path(vaderSentiment.__file__).with_name("vader_lexicon.txt")


@functools.cache
def vader_lexicon() -> dict[str, float]:
    """token -> mean valence, read from vader_lexicon.txt (token, mean, sd, ratings: TABs)."""
    lexicon = {}
    for line in lexicon_path().read_text(encoding="utf-8").splitlines():
        token, mean, *_ = line.split("\t")
        lexicon[token] = float(mean)
    return lexicon


def load_sentiment_words(
    seed: int = 0, n: int | None = None, threshold: float = 2.0
) -> FactDataset:
    """Alphabetic lexicon words with valence >= threshold (1) or <= -threshold (0), balanced."""
    if not (isinstance(threshold, int | float) and 0 < threshold <= 4):
        raise ArgumentError(f"sentiment threshold must be in (0, 4], got {threshold!r}")
    lexicon = vader_lexicon()
    words = sorted(w for w in lexicon if w.isalpha())
    positive = [w for w in words if lexicon[w] >= threshold]
    negative = [w for w in words if lexicon[w] <= -threshold]
    k = check_n("sentiment_words", n, 2 * min(len(positive), len(negative)))
    rng = random.Random(seed)
    n_pos = (k + 1) // 2
    rows = [(w, 1, {"valence": lexicon[w]}) for w in rng.sample(positive, n_pos)]
    rows += [(w, 0, {"valence": lexicon[w]}) for w in rng.sample(negative, k - n_pos)]
    return build(
        "sentiment_words",
        "classification",
        seed,
        rows,
        rng,
        source=package_source("vaderSentiment"),
        threshold=threshold,
        classes={1: "positive", 0: "negative"},
    )


def sentiment_score(text: str, ignore_unknown: bool = False) -> float:
    """Mean VADER valence of the words of `text` (lowercased; words not in the lexicon count 0).

    With `ignore_unknown=True` the mean is over lexicon words only. A text with no word (or, with
    ignore_unknown, no lexicon word) scores 0.0: neutral, rather than NaN in an average.
    """
    lexicon = vader_lexicon()
    words = _WORD.findall(text.lower())
    values = [lexicon.get(w) for w in words]
    if ignore_unknown:
        values = [v for v in values if v is not None]
    else:
        values = [0.0 if v is None else v for v in values]
    return math.fsum(values) / len(values) if values else 0.0
