"""The SAE training benchmark runs end to end in its tiny configuration (no model load)."""

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("sae_lens", reason="sae-lens is in the dev extra")
BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_sae_training.py"


def test_tiny_benchmark_reports_both_throughputs(capsys):
    spec = importlib.util.spec_from_file_location("bench_sae_training", BENCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--tiny"])
    assert set(out["tokens_per_s"]) == {"ours", "ours (SAELens recipe)", "SAELens"}
    assert all(v > 0 for v in out["tokens_per_s"].values())
    assert out["ratio"] == pytest.approx(
        out["tokens_per_s"]["ours"] / out["tokens_per_s"]["SAELens"]
    )
    assert out["ratio_same_recipe"] == pytest.approx(
        out["tokens_per_s"]["ours (SAELens recipe)"] / out["tokens_per_s"]["SAELens"]
    )
    assert "ours / SAELens" in capsys.readouterr().out
