"""Every day script that exists runs its `--smoke` configuration and returns finite metrics.

The scripts are loaded by path with `Day.load_module()` (their folders start with digits, so they
are not packages). They run with data installed outside pip hidden (`ARENA_NO_SYSTEM_DATA=1`, e.g.
Debian's Fashion-MNIST): the README's set-up installs from pip only, so a day that hard-depends on
an optional source must fail here, and a day that falls back must say so in metrics.json.
"""

import json
import math
import numbers

import pytest

from arena_core.curriculum import DAYS

RUNNABLE = [d for d in DAYS if d.is_runnable and d.script.exists()]
#: day -> (metrics.json source key, what it must say) when Fashion-MNIST is not installed.
FALLBACKS = {
    12: ("data_fashion_mnist", "unavailable, skipped"),
    14: ("source_data", "fallback for Fashion-MNIST"),
    23: ("fashion_mnist", "unavailable"),
    25: ("data_fashion_mnist", "unavailable, skipped"),
    26: ("data_fashion_mnist", "unavailable, skipped"),
    27: ("data_fashion_mnist", "unavailable, skipped"),
}


@pytest.fixture(autouse=True)
def pip_only_data(monkeypatch):
    monkeypatch.setenv("ARENA_NO_SYSTEM_DATA", "1")


def _finite(value) -> bool:
    if isinstance(value, bool) or isinstance(value, str):
        return True
    if isinstance(value, numbers.Number):
        return math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return all(_finite(v) for v in value)
    if isinstance(value, dict):
        return all(_finite(v) for v in value.values())
    return False


@pytest.mark.parametrize("day", RUNNABLE, ids=[d.tag for d in RUNNABLE])
def test_day_smoke_run(day, tmp_path):
    module = day.load_module()
    assert module.__doc__ and len(module.__doc__.strip()) > 80, "day scripts need a docstring"
    args = module.Args(smoke=True, out_dir=tmp_path, device="cpu", seed=0)
    metrics = module.main(args)
    assert isinstance(metrics, dict) and metrics, "main must return a non-empty metrics dict"
    bad = {k: v for k, v in metrics.items() if not _finite(v)}
    assert not bad, f"non-finite or non-numeric metrics: {bad}"
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "complete" and record["smoke"] is True
    assert record["day"] == day.number and record["seed"] == 0
    assert record["sources"], "metrics.json must say which data/model source was used"
    if day.number in FALLBACKS:
        key, says = FALLBACKS[day.number]
        assert says in record["sources"].get(key, ""), record["sources"]
    for name in record["figures"]:
        assert (tmp_path / name).exists()


def test_every_day_script_follows_the_contract():
    """Common flags exist with the same spelling in every day (checked without running)."""
    from arena_core.utils.args import DayArgs, build_parser

    for day in RUNNABLE:
        module = day.load_module()
        assert issubclass(module.Args, DayArgs), day.tag
        assert callable(module.main), day.tag
        flags = build_parser(module.Args).format_help()
        assert "run_script(main, Args)" in day.script.read_text(), day.tag
        for flag in ("--smoke", "--seed", "--device", "--out-dir", "--publish", "--debug"):
            assert flag in flags, (day.tag, flag)
