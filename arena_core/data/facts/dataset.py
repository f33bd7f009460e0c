"""The container every fact dataset returns, and the sampling helpers the loaders share.

A `FactDataset` is plain Python data: `prompts` (the text a model reads), `labels` (1/0 for a
true/false statement or a class, or the target string of a pair task), `records` (one dict per
item with the facts the prompt was made from, for analysis) and `meta` (name, seed, source
package and version, the dataset's parameters). Nothing here depends on torch: the probes and
function-vector code of days 39-44 turn prompts into activations themselves.
"""

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

from arena_core.errors import ArgumentError


@dataclass(frozen=True)
class FactDataset:
    """Prompts with their labels. `kind` in meta: "true_false", "classification" or "pair"."""

    prompts: list[str]
    labels: list[Any]
    meta: dict[str, Any]
    records: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self):
        if len(self.prompts) != len(self.labels):
            raise ValueError(f"{len(self.prompts)} prompts but {len(self.labels)} labels")

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def name(self) -> str:
        return self.meta["name"]

    def pairs(self) -> list[tuple[str, Any]]:
        """(prompt, label) tuples, e.g. the (input, output) examples of an ICL prompt."""
        return list(zip(self.prompts, self.labels, strict=True))


def package_source(dist: str) -> str:
    """'<dist> <version>' for metrics.json; the distribution must be installed."""
    return f"{dist} {metadata.version(dist)}"


def check_n(name: str, n: int | None, available: int) -> int:
    """`n` items, or all of them when n is None; a clear error when there aren't enough."""
    if n is None:
        return available
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ArgumentError(f"{name}: n must be a positive integer or None, got {n!r}")
    if n > available:
        raise ArgumentError(f"{name}: n={n} asked for, but only {available} items can be made")
    return n


def balanced_true_false(k: int) -> list[bool]:
    """k truth values, half True (the extra one True when k is odd), in a fixed order."""
    return [i < (k + 1) // 2 for i in range(k)]


def shuffled(items: Sequence, rng: random.Random) -> list:
    out = list(items)
    rng.shuffle(out)
    return out


def build(
    name: str,
    kind: str,
    seed: int,
    rows: list[tuple[str, Any, dict[str, Any]]],
    rng: random.Random,
    **meta: Any,
) -> FactDataset:
    """Shuffle (prompt, label, record) rows with `rng` (classes interleaved) and pack them."""
    rows = shuffled(rows, rng)
    info = {"name": name, "kind": kind, "seed": seed, "n": len(rows), **meta}
    return FactDataset(
        prompts=[r[0] for r in rows],
        labels=[r[1] for r in rows],
        meta=info,
        records=[r[2] for r in rows],
    )
