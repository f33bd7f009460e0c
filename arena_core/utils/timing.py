"""Timing helpers: a stopwatch context manager and interleaved, repeated measurements.

`compare` is what benchmarks use: it runs every candidate once per round, in rotating order, so
that slow drifts of the machine (thermal, other processes) hit all candidates alike, then reports
medians and the ratio of each candidate to the reference.
"""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Stopwatch:
    """`with Stopwatch() as sw: ...` then `sw.seconds`."""

    seconds: float = 0.0
    _start: float = field(default=0.0, repr=False)

    def __enter__(self) -> "Stopwatch":
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        self.seconds = time.perf_counter() - self._start


def time_call(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> list[float]:
    """Run `fn` `warmup` times untimed, then `repeats` times; return each run's seconds."""
    if repeats < 1:
        raise ValueError("repeats must be >= 1")
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


@dataclass(frozen=True)
class Comparison:
    """Median seconds per candidate and each candidate's time divided by the reference's."""

    medians: dict[str, float]
    reference: str

    def ratio(self, name: str) -> float:
        return self.medians[name] / self.medians[self.reference]

    def table(self) -> str:
        width = max(len(n) for n in self.medians)
        lines = [f"{'candidate':<{width}}  median ms   time / {self.reference}"]
        for name, med in self.medians.items():
            lines.append(f"{name:<{width}}  {med * 1e3:9.3f}   {self.ratio(name):6.2f}x")
        return "\n".join(lines)


def compare(
    candidates: dict[str, Callable[[], object]],
    reference: str,
    rounds: int = 7,
    warmup: int = 1,
    inner: int = 1,
) -> Comparison:
    """Interleaved timing: each round runs every candidate `inner` times, in rotating order."""
    if reference not in candidates:
        raise KeyError(f"reference {reference!r} is not among the candidates {list(candidates)}")
    names = list(candidates)
    for name in names:
        for _ in range(warmup):
            candidates[name]()
    samples: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        order = names[r % len(names) :] + names[: r % len(names)]
        for name in order:
            fn = candidates[name]
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - start) / inner)
    return Comparison({n: statistics.median(s) for n, s in samples.items()}, reference)
