"""Grid/random search against independent references (itertools, the distributions' definitions),
resuming an interrupted sweep, and the W&B sweep config format."""

import itertools

import pytest
import yaml

from arena_core.optim.sweeps import (
    Choice,
    LogUniform,
    Uniform,
    grid,
    load_trials,
    markdown_table,
    random_configs,
    run_sweep,
    wandb_sweep_config,
)


def test_grid_is_the_cartesian_product():
    space = {"lr": [0.1, 0.01, 0.001], "wd": [0, 1e-4], "act": ["relu", "gelu", "tanh", "x"]}
    configs = grid(space)
    assert len(configs) == 24
    expected = {tuple(c) for c in itertools.product(*space.values())}
    assert {(c["lr"], c["wd"], c["act"]) for c in configs} == expected


def test_random_configs_follow_their_distributions():
    space = {"lr": LogUniform(1e-4, 1e-1), "m": Uniform(0.5, 0.9), "w": Choice((16, 32)), "c": 7}
    configs = random_configs(space, 4000, seed=1)
    lrs = [c["lr"] for c in configs]
    assert all(1e-4 <= v <= 1e-1 for v in lrs) and all(0.5 <= c["m"] <= 0.9 for c in configs)
    assert {c["w"] for c in configs} == {16, 32} and all(c["c"] == 7 for c in configs)
    # log-uniform: each decade [1e-4,1e-3), [1e-3,1e-2), [1e-2,1e-1] holds ~1/3 of the samples
    # (binomial sd with n=4000 is ~0.0075, so 0.03 is a 4-sigma band).
    for lo in (1e-4, 1e-3, 1e-2):
        frac = sum(lo <= v < 10 * lo for v in lrs) / len(lrs)
        assert abs(frac - 1 / 3) < 0.03
    assert random_configs(space, 5, seed=3) == random_configs(space, 5, seed=3)


def test_interrupted_sweep_resumes_without_rerunning(tmp_path):
    configs = grid({"a": [1, 2, 3], "b": [10, 20]})
    path = tmp_path / "trials.jsonl"
    calls = []

    def objective(config):
        calls.append(config)
        if len(calls) == 4:
            raise KeyboardInterrupt  # the 4th trial is interrupted mid-way
        return {"score": config["a"] * config["b"]}

    with pytest.raises(KeyboardInterrupt):
        run_sweep(configs, objective, path)
    assert len(load_trials(path)) == 3
    with path.open("a") as fh:
        fh.write('{"config": {"a": 9')  # a half-written line from a kill
    calls.clear()
    trials = run_sweep(configs, lambda c: {"score": c["a"] * c["b"]}, path)
    assert [t.config for t in trials] == configs
    assert [t.metrics["score"] for t in trials] == [c["a"] * c["b"] for c in configs]
    assert len(load_trials(path)) == 6
    table = markdown_table(trials, "score")
    assert table.splitlines()[2].startswith("| 1 | 3 | 20 | 60")


def test_wandb_sweep_config_round_trips_through_yaml():
    space = {
        "lr": LogUniform(1e-4, 1e-1),
        "momentum": [0.0, 0.9],
        "epochs": 5,
        "p": Uniform(0.0, 0.5),
    }
    config = wandb_sweep_config(space, method="random", program="train.py")
    again = yaml.safe_load(yaml.safe_dump(config))
    assert again == config
    assert config["parameters"]["lr"] == {
        "distribution": "log_uniform_values",
        "min": 1e-4,
        "max": 1e-1,
    }
    assert config["parameters"]["momentum"] == {"values": [0.0, 0.9]}
    assert config["parameters"]["epochs"] == {"value": 5}
    assert config["metric"] == {"name": "test_accuracy", "goal": "maximize"}
    with pytest.raises(ValueError):
        wandb_sweep_config(space, method="annealing")
