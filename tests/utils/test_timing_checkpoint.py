import time

import pytest
import torch

from arena_core.utils import compare, load_checkpoint, save_checkpoint, time_call
from arena_core.utils.timing import Stopwatch


def test_compare_ranks_a_slower_candidate():
    result = compare(
        {"fast": lambda: None, "slow": lambda: time.sleep(0.002)}, reference="fast", rounds=5
    )
    assert result.medians["slow"] >= 0.0015
    assert result.ratio("slow") > 1 and result.ratio("fast") == 1
    assert "slow" in result.table()


def test_compare_needs_a_known_reference():
    with pytest.raises(KeyError):
        compare({"a": lambda: None}, reference="b")


def test_time_call_and_stopwatch():
    assert len(time_call(lambda: None, repeats=3)) == 3
    with Stopwatch() as sw:
        time.sleep(0.001)
    assert sw.seconds >= 0.001


def test_checkpoint_round_trip_and_atomicity(tmp_path):
    path = tmp_path / "ck" / "state.pt"
    assert load_checkpoint(path) is None
    save_checkpoint({"w": torch.arange(3), "epoch": 2}, path)
    state = load_checkpoint(path)
    assert state["epoch"] == 2 and torch.equal(state["w"], torch.arange(3))

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        save_checkpoint({"bad": Unpicklable()}, path)
    assert load_checkpoint(path)["epoch"] == 2  # the old checkpoint survived the failed write
    assert [p.name for p in path.parent.iterdir()] == ["state.pt"]  # no temp file left behind
