"""The bag-of-words baseline against scikit-learn: the same vocabulary and count matrix as
`CountVectorizer()` (default tokenizer), and the same weights as `LogisticRegression` with the same
C on those counts (our Newton fit in float64; lbfgs run to a tight tolerance)."""

import numpy as np
import pytest
import torch
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from arena_core.data.coup import load_coup
from arena_core.probes.bag_of_words import Vocabulary, fit_bag_of_words, words
from arena_core.probes.directions import ProbeInputError


def test_counts_match_count_vectorizer():
    train = load_coup("train", seed=0, n=60).prompts + ["Ünïcode wörds, a 1 b2 22 it's"]
    test = load_coup("french", seed=0, n=20).prompts + ["Next step: NEXT next."]
    cv = CountVectorizer().fit(train)
    vocab = Vocabulary.fit(train)
    assert list(vocab.index) == list(cv.get_feature_names_out())
    np.testing.assert_array_equal(vocab.counts(train).numpy(), cv.transform(train).toarray())
    np.testing.assert_array_equal(vocab.counts(test).numpy(), cv.transform(test).toarray())
    assert vocab.counts(["Next step: NEXT next."])[0, vocab.index["next"]] == 3


def test_weights_match_sklearn_logistic_regression():
    ds = load_coup("train", seed=1, n=80)
    clf = fit_bag_of_words(ds.prompts, ds.labels, C=0.5)
    x = CountVectorizer().fit_transform(ds.prompts).toarray()
    ref = LogisticRegression(C=0.5, tol=1e-12, max_iter=10_000).fit(x, ds.labels)
    # both minimise the same strictly convex objective; lbfgs stops within ~1e-6 of the optimum
    torch.testing.assert_close(clf.probe.coef, torch.tensor(ref.coef_[0]), atol=1e-4, rtol=1e-4)
    test = load_coup("report", seed=1, n=20).prompts
    torch.testing.assert_close(
        clf.scores(test),
        torch.tensor(
            ref.decision_function(
                CountVectorizer(vocabulary=clf.vocabulary.index).transform(test).toarray()
            )
        ),  # fmt: skip
        atol=1e-4,
        rtol=1e-4,
    )


def test_unknown_words_score_as_the_intercept_and_coverage():
    ds = load_coup("train", seed=2, n=40)
    clf = fit_bag_of_words(ds.prompts, ds.labels)
    s = clf.scores(["zzz qqq", "xylophone"])
    torch.testing.assert_close(s, clf.probe.intercept.expand(2))
    assert clf.vocabulary.coverage(["zzz next"]) == 0.5
    top = clf.top_words(3)
    assert len(top["positive"]) == 3 and top["positive"][0][1] > 0 > top["negative"][0][1]


def test_words_and_errors():
    assert words("I'll copy it, OK?") == ["ll", "copy", "it", "ok"]
    with pytest.raises(ProbeInputError, match="no words"):
        fit_bag_of_words(["a", "b"], [0, 1])
    with pytest.raises(ProbeInputError, match="labels"):
        fit_bag_of_words(["one two", "three four"], [1])
