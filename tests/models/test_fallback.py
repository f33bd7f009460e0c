"""`load_model_or_fallback`: an optional model that is not installed gives the offline default and
one line saying so; the default itself missing is still an error."""

import pytest

from arena_core.models import ModelUnavailableError, registry
from arena_core.models.registry import load_model_or_fallback


def _missing(**_):
    raise ModelUnavailableError("not installed: run `make qwen`")


def test_missing_optional_model_falls_back_to_the_default(monkeypatch):
    monkeypatch.setattr(registry, "load_qwen", _missing)
    lines = []
    lm, note = load_model_or_fallback("qwen2.5-coder-0.5b-instruct", log=lines.append)
    assert lm.name == "smollm2-135m"
    assert note is not None and "make qwen" in note and "smollm2-135m" in note
    assert lines == [f"  {note}"]


def test_an_installed_model_loads_without_a_note():
    lines = []
    lm, note = load_model_or_fallback("smollm2-135m", log=lines.append)
    assert lm.name == "smollm2-135m" and note is None and lines == []


def test_the_fallback_itself_missing_raises(monkeypatch):
    monkeypatch.setattr(registry, "load_smollm2", _missing)
    with pytest.raises(ModelUnavailableError, match="make qwen"):
        load_model_or_fallback("smollm2-135m", log=lambda _: None)
    monkeypatch.setattr(registry, "load_qwen", _missing)
    with pytest.raises(ModelUnavailableError):
        load_model_or_fallback("qwen2.5-coder-0.5b-instruct", log=lambda _: None)


class _FakeRun:
    device = "cpu"

    def __init__(self):
        self.sources, self.logged, self.printed = {}, {}, []

    def print(self, line):
        self.printed.append(line)

    def log(self, **values):
        self.logged.update(values)

    def record_source(self, kind, description):
        self.sources[kind] = description


def test_load_model_for_run_records_source_and_fallback(monkeypatch):
    from arena_core.models.registry import load_model_for_run

    monkeypatch.setattr(registry, "load_qwen", _missing)
    run = _FakeRun()
    lm = load_model_for_run("qwen2.5-coder-0.5b-instruct", run)
    assert lm.name == "smollm2-135m"
    assert run.sources["model"] == lm.source
    assert "make qwen" in run.logged["model_fallback"]
    assert "model_provenance" not in run.logged  # SmolLM2 carries none
