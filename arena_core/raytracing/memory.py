"""Peak memory of a function call (day 10), from the kernel's resident-set high-water mark.

torch's CPU allocator is invisible to `tracemalloc`, so we ask Linux instead: writing "5" to
`/proc/self/clear_refs` resets the process's peak resident set size (VmHWM) to its current size
(VmRSS); after the call, VmHWM - VmRSS_before is the extra memory the call needed at its peak.
(`resource.getrusage().ru_maxrss` cannot be reset, and a spawned child inherits its parent's
value across exec on Linux, which is why we do not use it.) Large torch CPU buffers are returned
to the OS when freed -- provided glibc serves them with mmap. glibc raises its mmap threshold
dynamically after large frees (up to 32 MiB), after which freed buffers stay resident and get
reused, hiding later peaks; so we pin the threshold at 128 KiB with `mallopt` first (this only
changes where large blocks come from). Memory freed into glibc's heap *before* the pin can still
be reused silently, so for trustworthy numbers pass `fresh_process=True`: the call then runs in a
spawned interpreter that pins the threshold before doing anything else (`fn` must then be a
module-level function and its arguments picklable). Off Linux, or where the kernel does not
honour the reset (VmHWM still above VmRSS after it), the numbers are NaN rather than wrong.
"""

import ctypes
import ctypes.util
import math
import multiprocessing
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


_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def _pin_mmap_threshold() -> None:
    """Serve large blocks with mmap from now on, and hand free heap pages back to the OS so that
    blocks freed earlier (before the pin) cost resident memory again when they are reused."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 128 * 1024)
        libc.malloc_trim(0)
    except (OSError, AttributeError):
        pass  # not glibc: nothing to pin


def _reset_peak() -> bool:
    """Reset VmHWM to VmRSS; False where the kernel refuses or ignores the request."""
    try:
        _CLEAR_REFS.write_text("5")
        return _status_mb("VmHWM") - _status_mb("VmRSS") < 1.0
    except (OSError, KeyError):
        return False


def peak_memory_mb(
    fn: Callable, *args: Any, fresh_process: bool = False, **kwargs: Any
) -> dict[str, float]:
    """Run `fn(*args, **kwargs)`; return baseline RSS, peak RSS and the extra peak, in MiB."""
    if fresh_process:
        ctx = multiprocessing.get_context("spawn")
        with ctx.Pool(1) as pool:
            return pool.apply(_measure_in_child, (fn, args, kwargs))
    _pin_mmap_threshold()
    if not _reset_peak():  # not Linux, or a kernel without clear_refs: no honest number
        fn(*args, **kwargs)
        return {"baseline_mb": math.nan, "peak_mb": math.nan, "extra_mb": math.nan}
    before = _status_mb("VmRSS")
    fn(*args, **kwargs)
    peak = _status_mb("VmHWM")
    return {"baseline_mb": before, "peak_mb": peak, "extra_mb": peak - before}


def _measure_in_child(fn: Callable, args: tuple, kwargs: dict) -> dict[str, float]:
    _pin_mmap_threshold()
    return peak_memory_mb(fn, *args, **kwargs)
