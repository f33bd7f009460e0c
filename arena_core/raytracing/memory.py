"""Peak memory of a function call, measured in a fresh process (day 10).

torch's CPU allocator is invisible to `tracemalloc`, so we run the call in a spawned child process
and read the kernel's high-water mark of its resident set size (`ru_maxrss`, KiB on Linux) before
and after. The difference is the extra memory the call needed at its peak, on top of what the
process already held (interpreter, torch, inputs).
"""

import multiprocessing
import resource
import sys
from collections.abc import Callable
from typing import Any


def _child(fn: Callable, args: tuple, kwargs: dict) -> tuple[float, float]:
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    fn(*args, **kwargs)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale
    return before / 2**20, after / 2**20


def peak_memory_mb(fn: Callable, *args: Any, **kwargs: Any) -> dict[str, float]:
    """Run `fn(*args, **kwargs)` in a spawned process; return baseline/peak RSS and the delta (MiB).

    `fn` must be importable (a module-level function) and its arguments picklable.
    """
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(1) as pool:
        before, after = pool.apply(_child, (fn, args, kwargs))
    return {"baseline_mb": before, "peak_mb": after, "extra_mb": after - before}
