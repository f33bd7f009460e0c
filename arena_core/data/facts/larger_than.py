"""'Larger than' statements between two integers, written as words or as digits.

    larger_than          "Seventy-three is larger than forty-one."   1
    larger_than_digits   "41 is larger than 73."                      0

After the `larger_than` set of Marks & Tegmark, "The Geometry of Truth" (2023,
https://arxiv.org/abs/2310.06824), a truth dataset whose truth is arithmetic rather than
recalled. Used by day 39 (generalisation across datasets) and day 41 (probe failure modes).
Balanced: half the statements are true; every ordered pair of distinct numbers appears at most once.
"""

import itertools
import random

from arena_core.data.facts.dataset import FactDataset, balanced_true_false, build, check_n
from arena_core.errors import ArgumentError

_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
    "fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()


def number_to_words(x: int) -> str:
    """0..999 in English words: 73 -> 'seventy-three', 305 -> 'three hundred five'."""
    if not 0 <= x <= 999:
        raise ArgumentError(f"number_to_words handles 0..999, got {x}")
    if x < 20:
        return _UNITS[x]
    if x < 100:
        tens, units = divmod(x, 10)
        return _TENS[tens] + (f"-{_UNITS[units]}" if units else "")
    hundreds, rest = divmod(x, 100)
    return f"{_UNITS[hundreds]} hundred" + (f" {number_to_words(rest)}" if rest else "")


def _larger_than(name, seed, n, low, high, words) -> FactDataset:
    if not (isinstance(low, int) and isinstance(high, int) and 0 <= low < high <= 999):
        raise ArgumentError(f"{name}: need integers 0 <= low < high <= 999, got {low}, {high}")
    span = high - low + 1
    # unordered pairs {a, b}; each is written once, larger-first (true) or smaller-first (false)
    k = check_n(name, n, span * (span - 1) // 2)
    rng = random.Random(seed)
    rows = []
    chosen = rng.sample(list(itertools.combinations(range(low, high + 1), 2)), k)
    for (a, b), truth in zip(chosen, balanced_true_false(k), strict=True):
        first, second = (b, a) if truth else (a, b)
        if words:
            text = f"{number_to_words(first)} is larger than {number_to_words(second)}."
            text = text[0].upper() + text[1:]
        else:
            text = f"{first} is larger than {second}."
        rows.append((text, int(first > second), {"first": first, "second": second}))
    return build(name, "true_false", seed, rows, rng, low=low, high=high, words=words)


def load_larger_than(seed: int = 0, n: int | None = None, low: int = 1, high: int = 99):
    """'Seventy-three is larger than forty-one.' with numbers in words (1 true / 0 false)."""
    return _larger_than("larger_than", seed, n, low, high, words=True)


def load_larger_than_digits(seed: int = 0, n: int | None = None, low: int = 1, high: int = 99):
    """'73 is larger than 41.' with numbers in digits (1 true / 0 false)."""
    return _larger_than("larger_than_digits", seed, n, low, high, words=False)
