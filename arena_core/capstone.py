"""Module reviews (day 28): rerun a range of day scripts and gather their published results.

`rerun_day(day, out_dir, full)` loads a day script by path (as `arena run` and the smoke tests do)
and calls its `main(Args(...))` in smoke mode (or full mode), timing it and catching failures, so
one broken day does not stop the review. `published_metrics(day)` reads the metrics.json that the
day's last `--publish` run left in `blog_posts/figures/day_NNN/`. `key_metric` picks the number
that best summarises a day: a named preference list first, else the first finite number.
"""

import json
import math
import time
import traceback
from pathlib import Path
from typing import Any

from arena_core.curriculum import Day

#: substrings of metric names that summarise a day best, in order of preference
PREFERRED = (
    "test_elbo", "fd_gan_vs_test", "test_acc", "accuracy", "test_bce", "speedup", "max_abs_err",
    "error", "loss",
)  # fmt: skip


def rerun_day(day: Day, out_dir: Path, full: bool = False, seed: int = 0) -> dict[str, Any]:
    """Run the day's `main` (smoke unless `full`); return status, seconds and its metrics."""
    start = time.perf_counter()
    try:
        module = day.load_module()
        args = module.Args(smoke=not full, out_dir=out_dir, device="cpu", seed=seed)
        metrics = module.main(args)
        status, error = "ok", ""
    except Exception as err:  # a review records failures instead of stopping
        metrics, status = {}, "failed"
        error = f"{type(err).__name__}: {err}"[:300]
        traceback.print_exc()
    return {"status": status, "seconds": time.perf_counter() - start, "metrics": metrics,
            "error": error}  # fmt: skip


def published_metrics(day: Day) -> dict[str, Any] | None:
    path = day.figures_dir / "metrics.json"
    if not path.exists():
        return None
    record = json.loads(path.read_text())
    return record if not record.get("smoke") else None


def key_metric(metrics: dict[str, Any]) -> tuple[str, float] | None:
    numbers = {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(float(v))
    }
    for pattern in PREFERRED:
        for name, value in numbers.items():
            if pattern in name:
                return name, value
    return next(iter(numbers.items()), None)
