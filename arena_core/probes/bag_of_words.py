"""A bag-of-words text classifier: the black-box baseline a probe has to beat (day 40).

A probe reads the model's activations; a black-box monitor reads only the text. The simplest such
monitor counts words: each text becomes a vector of word counts over the training vocabulary
(`x_j` = how often word j occurs), and logistic regression learns one weight per word,

    score(text) = Σ_j w_j · count_j(text) + b.

It cannot see word order or meaning, only which words occur, and a word it never saw in training
contributes nothing. So it should do well when harmful and benign texts differ by a few telltale
words ("outside", "delete", "hidden") and fail on another language, where none of its words
occur. Words are found as scikit-learn's `CountVectorizer` finds them by default (lowercase,
regex `\\b\\w\\w+\\b`, so one-letter words are dropped) and the vocabulary is sorted, so the count
matrix can be checked against it; the weights come from the project's own
`arena_core.probes.logistic.fit_logistic` (scikit-learn's objective, same `C`).

Used by day 40 (coup probes vs a black-box baseline).
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from jaxtyping import Float
from torch import Tensor

from arena_core.probes.directions import ProbeInputError
from arena_core.probes.logistic import LogisticProbe, fit_logistic

WORD = re.compile(r"\b\w\w+\b")  # scikit-learn's default token_pattern


def words(text: str) -> list[str]:
    """The lowercased words of a text, two characters or longer, in order."""
    return WORD.findall(text.lower())


@dataclass(frozen=True)
class Vocabulary:
    """Sorted training words and their column index."""

    index: dict[str, int]

    @classmethod
    def fit(cls, texts: Sequence[str]) -> "Vocabulary":
        vocab = sorted({w for t in texts for w in words(t)})
        if not vocab:
            raise ProbeInputError("the training texts contain no words (two letters or more)")
        return cls({w: i for i, w in enumerate(vocab)})

    def counts(self, texts: Sequence[str]) -> Float[Tensor, "n vocab"]:
        """Word counts (float64); words outside the vocabulary are ignored."""
        x = torch.zeros((len(texts), len(self.index)), dtype=torch.float64)
        for i, text in enumerate(texts):
            cols = [self.index[w] for w in words(text) if w in self.index]
            if cols:
                x[i].index_add_(0, torch.tensor(cols), torch.ones(len(cols), dtype=torch.float64))
        return x

    def coverage(self, texts: Sequence[str]) -> float:
        """Fraction of the texts' words that are in the vocabulary (0 for a new language)."""
        all_words = [w for t in texts for w in words(t)]
        return sum(w in self.index for w in all_words) / max(1, len(all_words))


@dataclass(frozen=True)
class BagOfWordsClassifier:
    vocabulary: Vocabulary
    probe: LogisticProbe

    def scores(self, texts: Sequence[str]) -> Float[Tensor, " n"]:
        """Logit of the positive class for each text."""
        return self.probe.scores(self.vocabulary.counts(texts))

    def top_words(self, k: int = 5) -> dict[str, list[tuple[str, float]]]:
        """The k words with the largest positive and negative weights."""
        names = sorted(self.vocabulary.index, key=self.vocabulary.index.get)
        order = torch.argsort(self.probe.coef)
        neg = [(names[i], round(float(self.probe.coef[i]), 4)) for i in order[:k].tolist()]
        pos = [(names[i], round(float(self.probe.coef[i]), 4)) for i in order.flip(0)[:k].tolist()]
        return {"positive": pos, "negative": neg}


def fit_bag_of_words(
    texts: Sequence[str], labels: Sequence[int] | Tensor, C: float = 1.0
) -> BagOfWordsClassifier:
    """Vocabulary of the training texts + L2 logistic regression on the word counts."""
    if len(texts) != len(labels):
        raise ProbeInputError(f"{len(texts)} texts but {len(labels)} labels")
    vocab = Vocabulary.fit(texts)
    y = torch.as_tensor(labels)
    return BagOfWordsClassifier(vocab, fit_logistic(vocab.counts(texts), y, C=C))
