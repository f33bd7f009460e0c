"""Peak memory of a function call (day 10), from the kernel's resident-set high-water mark.

torch's CPU allocator is invisible to `tracemalloc`, so we ask Linux instead: writing "5" to
`/proc/self/clear_refs` resets the process's peak resident set size (VmHWM) to its current size
(VmRSS); after the call, VmHWM - VmRSS_before is the extra memory the call needed at its peak.
(`resource.getrusage().ru_maxrss` cannot be reset, and a spawned child inherits its parent's
value across exec on Linux, which is why we do not use it.) Large torch CPU buffers are returned
to the OS when freed, so the baseline is not inflated by earlier work. Off Linux the numbers are
NaN.
"""

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def _status_mb(field: str) -> float:
    for line in _STATUS.read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # the kernel reports kB
    raise KeyError(field)


def peak_memory_mb(fn: Callable, *args: Any, **kwargs: Any) -> dict[str, float]:
    """Run `fn(*args, **kwargs)`; return baseline RSS, peak RSS and the extra peak, in MiB."""
    try:
        _CLEAR_REFS.write_text("5")
        before = _status_mb("VmRSS")
    except OSError:
        fn(*args, **kwargs)
        return {"baseline_mb": math.nan, "peak_mb": math.nan, "extra_mb": math.nan}
    fn(*args, **kwargs)
    peak = _status_mb("VmHWM")
    return {"baseline_mb": before, "peak_mb": peak, "extra_mb": peak - before}
