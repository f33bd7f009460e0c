"""Progress bars for long loops (tqdm on stderr, so stdout summaries stay clean)."""

import sys
from collections.abc import Iterable
from typing import TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(
    iterable: Iterable[T], desc: str = "", total: int | None = None, **kwargs
) -> Iterable[T]:
    """Wrap `iterable` in a tqdm bar; the bar hides itself when stderr is not a terminal.

    The loop body does not change, so interrupting (Ctrl-C) simply stops the loop: work saved in
    earlier iterations (checkpoints, metrics) stays.
    """
    kwargs.setdefault("disable", None)  # None = disable when not a TTY
    kwargs.setdefault("dynamic_ncols", True)
    kwargs.setdefault("file", sys.stderr)
    return tqdm(iterable, desc=desc, total=total, **kwargs)
