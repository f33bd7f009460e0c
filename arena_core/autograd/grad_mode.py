"""Global switch for graph recording: `no_grad()` turns it off inside a `with` block (day 21, 23).

Inside `no_grad`, operations on `Tensor`s compute values only: no `Node` is attached, nothing is
saved for backward, and in-place updates of leaf parameters (the SGD step) are allowed.
"""

import contextlib
from collections.abc import Iterator

_grad_enabled = True


def is_grad_enabled() -> bool:
    return _grad_enabled


@contextlib.contextmanager
def no_grad() -> Iterator[None]:
    """`with no_grad(): ...` records no graph; the previous mode is restored even on errors."""
    global _grad_enabled
    previous, _grad_enabled = _grad_enabled, False
    try:
        yield
    finally:
        _grad_enabled = previous
