"""arena_core.capstone: key-metric choice, published-metrics reading, failure capture."""

import json

from arena_core.capstone import key_metric, published_metrics, rerun_day
from arena_core.curriculum import Day


def test_key_metric_prefers_named_patterns_and_skips_non_numbers():
    metrics = {"likelihood": "Bernoulli", "flag": True, "n": 3, "x_test_elbo": -250.0}
    assert key_metric(metrics) == ("x_test_elbo", -250.0)
    assert key_metric({"a": float("nan"), "b": 2}) == ("b", 2.0)
    assert key_metric({"s": "text"}) is None


def test_published_metrics_ignores_smoke_runs(tmp_path, monkeypatch):
    day = Day(99, "t", "—", "x/day_099_t.py")
    monkeypatch.setattr(Day, "figures_dir", property(lambda self: tmp_path))
    assert published_metrics(day) is None
    (tmp_path / "metrics.json").write_text(json.dumps({"smoke": True, "metrics": {}}))
    assert published_metrics(day) is None
    (tmp_path / "metrics.json").write_text(json.dumps({"smoke": False, "metrics": {"a": 1}}))
    assert published_metrics(day)["metrics"] == {"a": 1}


def test_rerun_records_failure_instead_of_raising(tmp_path, monkeypatch):
    script = tmp_path / "day_099_broken.py"
    script.write_text(
        "from dataclasses import dataclass\n"
        "from arena_core.utils import DayArgs\n"
        "@dataclass\nclass Args(DayArgs):\n    pass\n"
        "def main(args):\n    raise RuntimeError('boom')\n"
    )
    day = Day(99, "t", "—", "x/day_099_broken.py")
    monkeypatch.setattr(Day, "script", property(lambda self: script))
    result = rerun_day(day, tmp_path / "out")
    assert result["status"] == "failed" and "boom" in result["error"]
