"""Balanced-bracket strings for a bidirectional classifier (day 59; day 60 reads its mechanism).

A string of "(" and ")" is balanced when its *elevation* (running count: +1 for "(", -1 for ")")
never drops below zero and ends at zero. So there are two ways to fail: the total count is
unequal (the final elevation is not zero), or the count is right but some prefix has more ")"
than "(" (the elevation dips below zero somewhere, e.g. "())(").

Tokens follow the layout of ARENA 1.5.1: [start] string [end], then [pad] up to `N_CTX` = 42, so
strings hold at most 40 brackets. The classifier reads its answer at the [start] position.

The generator mixes four kinds (the `kind` of each string): balanced; "negative prefix" (equal
counts, some prefix below zero: a shuffled equal-count string that is not balanced); "unequal
count" (any length, counts differ); and uniformly random strings (mostly unbalanced). A string is
a key `length * 2**40 + bits` (bit i set when character i is ")"), so duplicates and the held-out
set are found with `torch.isin`, vectorised. A key decides the split (`held_out_bucket`, about
1 string in 10): `BracketData` draws a fixed held-out set of distinct strings from that bucket and
fresh training batches from the rest, so the two never meet and every length stays in training.
"""

from dataclasses import dataclass, field

import torch
from jaxtyping import Bool, Int
from torch import Tensor

from arena_core.errors import UserError

START, PAD, END, OPEN, CLOSE = 0, 1, 2, 3, 4
VOCAB = ("[start]", "[pad]", "[end]", "(", ")")
MAX_LEN = 40
N_CTX = MAX_LEN + 2
KINDS = ("balanced", "negative_prefix", "unequal_count", "random")
#: default share of each kind in a batch (the class mix: about half balanced)
MIX = (0.5, 0.2, 0.2, 0.1)
HOLD_OUT_MODULUS = 2_147_483_647  # the Lehmer prime 2^31 - 1


class BracketError(UserError, ValueError):
    """A string with a character other than "(" and ")", or longer than `MAX_LEN`."""


def _check(s: str) -> None:
    if len(s) > MAX_LEN:
        raise BracketError(f"string of length {len(s)} is longer than {MAX_LEN} brackets")
    bad = sorted(set(s) - {"(", ")"})
    if bad:
        raise BracketError(f"only '(' and ')' are allowed, got {bad} in {s!r}")


def tokenize(strings: list[str]) -> Int[Tensor, "batch n_ctx"]:
    """[start] s [end] [pad]... for each string, `N_CTX` tokens per row (pad on the right)."""
    out = torch.full((len(strings), N_CTX), PAD, dtype=torch.long)
    for i, s in enumerate(strings):
        _check(s)
        row = [START] + [OPEN if c == "(" else CLOSE for c in s] + [END]
        out[i, : len(row)] = torch.tensor(row)
    return out


def detokenize(tokens: Int[Tensor, "batch n_ctx"]) -> list[str]:
    """The bracket strings back (everything that is not "(" or ")" is dropped)."""
    chars = {OPEN: "(", CLOSE: ")"}
    return ["".join(chars.get(int(t), "") for t in row) for row in tokens]


def attention_mask(tokens: Int[Tensor, "batch n_ctx"]) -> Int[Tensor, "batch n_ctx"]:
    """1 for real tokens ([start], brackets, [end]), 0 for padding."""
    return (tokens != PAD).long()


def elevation(s: str) -> list[int]:
    """Running count after each character: +1 for "(", -1 for ")"."""
    _check(s)
    out, h = [], 0
    for c in s:
        h += 1 if c == "(" else -1
        out.append(h)
    return out


def is_balanced(s: str) -> bool:
    """Balanced: the elevation never goes below zero and ends at zero."""
    h = elevation(s)
    return not h or (min(h) >= 0 and h[-1] == 0)


def labels_from_tokens(tokens: Int[Tensor, "batch n_ctx"]) -> Int[Tensor, " batch"]:
    """1 = balanced, 0 = unbalanced, from a vectorised elevation (cumsum of ±1)."""
    step = (tokens == OPEN).long() - (tokens == CLOSE).long()
    h = step.cumsum(dim=1)
    return ((h.min(dim=1).values >= 0) & (h[:, -1] == 0)).long()


def _keys(bits: Bool[Tensor, "n max_len"], lengths: Int[Tensor, " n"]) -> Int[Tensor, " n"]:
    weights = 2 ** torch.arange(MAX_LEN, dtype=torch.long)
    return (bits.long() * weights).sum(dim=1) + lengths * 2**MAX_LEN


def _tokens(bits: Bool[Tensor, "n max_len"], lengths: Int[Tensor, " n"]) -> Tensor:
    n = len(lengths)
    idx = torch.arange(N_CTX)[None, :]
    body = torch.where(bits, CLOSE, OPEN)
    tokens = torch.full((n, N_CTX), PAD, dtype=torch.long)
    tokens[:, 1 : MAX_LEN + 1] = torch.where(idx[:, 1 : MAX_LEN + 1] <= lengths[:, None], body, PAD)
    tokens[:, 0] = START
    tokens[idx == lengths[:, None] + 1] = END
    return tokens


def _balanced_by_bits(bits: Tensor, lengths: Tensor) -> Tensor:
    inside = torch.arange(MAX_LEN)[None, :] < lengths[:, None]
    step = torch.where(bits, -1, 1) * inside
    h = step.cumsum(dim=1)
    return (h.min(dim=1).values >= 0) & (h[:, -1] == 0)


def _equal_count(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """n strings of even length 2..40 with as many "(" as ")" (a random permutation)."""
    lengths = 2 * torch.randint(1, MAX_LEN // 2 + 1, (n,), generator=g)
    ranks = torch.rand(n, MAX_LEN, generator=g)
    ranks[torch.arange(MAX_LEN)[None, :] >= lengths[:, None]] = 2.0  # padding sorts last
    order = ranks.argsort(dim=1).argsort(dim=1)  # each position's rank among the real ones
    bits = order < (lengths // 2)[:, None]  # the lowest half of the ranks become ")"
    bits &= torch.arange(MAX_LEN)[None, :] < lengths[:, None]
    return bits, lengths


def _random(n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    lengths = torch.randint(1, MAX_LEN + 1, (n,), generator=g)
    bits = torch.rand(n, MAX_LEN, generator=g) < 0.5
    return bits & (torch.arange(MAX_LEN)[None, :] < lengths[:, None]), lengths


def _sample_kind(kind: str, n: int, g: torch.Generator) -> tuple[Tensor, Tensor]:
    """Exactly n strings of one kind (rejection sampling, vectorised)."""
    got_b, got_l, have = [], [], 0
    while have < n:
        m = max(4 * (n - have), 64)
        if kind in ("balanced", "negative_prefix"):
            bits, lengths = _equal_count(m * (6 if kind == "balanced" else 1), g)
            ok = _balanced_by_bits(bits, lengths)
            keep = ok if kind == "balanced" else ~ok
        elif kind == "unequal_count":
            bits, lengths = _random(m, g)
            keep = 2 * bits.sum(dim=1) != lengths
        else:
            bits, lengths = _random(m, g)
            keep = torch.ones(m, dtype=torch.bool)
        got_b.append(bits[keep])
        got_l.append(lengths[keep])
        have += int(keep.sum())
    return torch.cat(got_b)[:n], torch.cat(got_l)[:n]


@dataclass
class BracketBatch:
    tokens: Int[Tensor, "batch n_ctx"]
    labels: Int[Tensor, " batch"]  # 1 = balanced
    kinds: Int[Tensor, " batch"]  # index into KINDS
    keys: Int[Tensor, " batch"]

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def strings(self) -> list[str]:
        return detokenize(self.tokens)

    @property
    def lengths(self) -> Int[Tensor, " batch"]:
        return ((self.tokens == OPEN) | (self.tokens == CLOSE)).sum(dim=1)


def held_out_bucket(keys: Int[Tensor, " n"]) -> Bool[Tensor, " n"]:
    """True for the strings that may be held out: about 1 in 10 of all strings, by their key.

    Splitting by key rather than by drawing the test set first keeps short strings in training:
    there are only 2 balanced strings of length 4, and a test set of 5,000 distinct strings drawn
    first would take both, leaving training with no short balanced string at all."""
    # a few rounds of a Lehmer step and an xor-shift: keys that differ in one low bit (short
    # strings of one length) land in unrelated places, so the split is ~1 in 10 at every length
    h = keys % HOLD_OUT_MODULUS + keys // HOLD_OUT_MODULUS % HOLD_OUT_MODULUS
    for _ in range(3):
        h = (h * 48271 + 12345) % HOLD_OUT_MODULUS
        h = h ^ (h >> 13)
    return h % 10 == 0


def generate(
    n: int,
    generator: torch.Generator,
    mix: tuple[float, ...] = MIX,
    exclude: Tensor | None = None,
    unique: bool = False,
    bucket: bool | None = None,
) -> BracketBatch:
    """n strings mixed by `mix` (shares of KINDS), none of whose keys is in `exclude`;
    with `unique`, no string appears twice; `bucket=True` / `False` keeps only strings inside /
    outside `held_out_bucket`."""
    if len(mix) != len(KINDS) or any(m < 0 for m in mix) or sum(mix) <= 0:
        raise BracketError(f"mix needs {len(KINDS)} non-negative shares, got {mix}")
    shares = torch.tensor(mix, dtype=torch.float64) / sum(mix)
    counts = (shares * n).floor().long()
    counts[int(shares.argmax())] += n - int(counts.sum())
    parts, keys_all = [], torch.empty(0, dtype=torch.long)
    for k, (kind, c) in enumerate(zip(KINDS, counts.tolist(), strict=True)):
        bits_all, len_all, need = [], [], c
        for _ in range(1000):
            if need == 0:
                break
            bits, lengths = _sample_kind(kind, 2 * need, generator)
            keys = _keys(bits, lengths)
            keep = torch.ones(len(keys), dtype=torch.bool)
            if exclude is not None:
                keep &= ~torch.isin(keys, exclude)
            if bucket is not None:
                keep &= held_out_bucket(keys) == bucket
            if unique:
                keep &= ~torch.isin(keys, keys_all)
                first = torch.zeros(len(keys), dtype=torch.bool)
                _, inv = torch.unique(keys, return_inverse=True)
                seen = torch.full((int(inv.max()) + 1,), len(keys))
                seen.scatter_reduce_(0, inv, torch.arange(len(keys)), reduce="amin")
                first[seen] = True
                keep &= first
            idx = keep.nonzero().squeeze(1)[:need]
            bits_all.append(bits[idx])
            len_all.append(lengths[idx])
            keys_all = torch.cat([keys_all, keys[idx]])
            need -= len(idx)
        if need:
            raise BracketError(f"could not draw {c} distinct {kind} strings")
        parts.append((torch.cat(bits_all), torch.cat(len_all), k))
    bits = torch.cat([p[0] for p in parts])
    lengths = torch.cat([p[1] for p in parts])
    kinds = torch.cat([torch.full((len(p[1]),), p[2]) for p in parts])
    perm = torch.randperm(n, generator=generator)
    bits, lengths, kinds = bits[perm], lengths[perm], kinds[perm]
    tokens = _tokens(bits, lengths)
    return BracketBatch(tokens, labels_from_tokens(tokens), kinds, _keys(bits, lengths))


@dataclass
class BracketData:
    """A fixed held-out set of `n_test` distinct strings and a stream of training batches that
    never contains one of them (same mix, same seed -> same data)."""

    seed: int = 0
    n_test: int = 5000
    mix: tuple[float, ...] = MIX
    test: BracketBatch = field(init=False)
    _train_gen: torch.Generator = field(init=False, repr=False)

    def __post_init__(self) -> None:
        g = torch.Generator().manual_seed(self.seed)
        self.test = generate(self.n_test, g, self.mix, unique=True, bucket=True)
        self._train_gen = torch.Generator().manual_seed(self.seed + 1)

    def train_batch(self, n: int) -> BracketBatch:
        return generate(n, self._train_gen, self.mix, bucket=False)

    def generator_state(self) -> Tensor:
        return self._train_gen.get_state()

    def set_generator_state(self, state: Tensor) -> None:
        self._train_gen.set_state(state)
