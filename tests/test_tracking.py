"""The wandb tracking layer: disabled keeps values locally, offline writes a syncable run dir,
online without an API key fails at once with a clear message (no network is ever touched)."""

import pytest

from arena_core.tracking import Tracker, TrackingError, has_api_key


def test_disabled_keeps_history_without_wandb_run():
    with Tracker() as tracker:
        tracker.log({"loss": 1.0}, step=0)
        tracker.log({"loss": 0.5}, step=1)
        tracker.summary(acc=0.9)
    assert tracker.run is None and tracker.run_dir is None
    assert [h["loss"] for h in tracker.history] == [1.0, 0.5]
    assert tracker.summary_values == {"acc": 0.9}


def test_offline_writes_syncable_run(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    table = tmp_path / "table.csv"
    table.write_text("lr,acc\n0.1,0.9\n")
    with Tracker("offline", project="test", config={"lr": 0.1}, dir=tmp_path) as tracker:
        for step in range(3):
            tracker.log({"loss": 1.0 / (step + 1)}, step=step)
        tracker.log_table("results", ["lr", "acc"], [[0.1, 0.9]])
        tracker.save_file(table)
        tracker.summary(acc=0.9)
        run_dir = tracker.run_dir
    assert run_dir.name.startswith("offline-run-") and run_dir.parent == tmp_path / "wandb"
    # What `wandb sync <run_dir>` uploads: the binary transaction log of the run.
    records = list(run_dir.glob("run-*.wandb"))
    assert len(records) == 1 and records[0].stat().st_size > 0
    assert (run_dir / "files" / "table.csv").exists()


def test_online_without_api_key_fails_clearly(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.delenv("WANDB_MODE", raising=False)  # the suite's kill switch would win
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    assert not has_api_key()
    with pytest.raises(TrackingError, match="API key"):
        Tracker("online", dir=tmp_path)


def test_wandb_mode_disabled_env_is_a_kill_switch(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    with Tracker("offline", dir=tmp_path) as tracker:
        tracker.log({"loss": 1.0})
    assert tracker.mode == "disabled" and tracker.run is None
    assert not (tmp_path / "wandb").exists()


def test_rejects_unknown_mode():
    with pytest.raises(ValueError):
        Tracker("sometimes")
