"""The per-source SAE quality script runs end to end on the small SAE (trained once, cached)."""

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "sae_quality.py"
pytestmark = pytest.mark.usefixtures("one_thread")


def test_smoke_scores_each_source(capsys):
    spec = importlib.util.spec_from_file_location("sae_quality", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    out = mod.main(["--smoke"])
    assert set(out["sources"]) == {"shakespeare", "python", "facts"}  # no chat without a model
    for row in out["sources"].values():
        assert row["rows"] == 2 and row["l0"] > 0
        assert row["ce_clean"] < min(row["ce_mean_ablation"], row["ce_zero_ablation"])
    assert "no held-out rows" in capsys.readouterr().out
