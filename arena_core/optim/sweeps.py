"""Hyperparameter search: grid and random search with resumable trial records, and the matching
W&B sweep configuration for online users (day 18).

Random search (Bergstra & Bengio 2012) beats a grid of the same size when only a few of the
hyperparameters matter: a 5x5 grid tries 5 distinct learning rates, 25 random trials try 25.
Scale-like hyperparameters (learning rate, weight decay) are sampled log-uniformly.

Every finished trial is appended to a JSON-lines file at once; re-running the same sweep skips the
configurations already recorded there, so an interrupted sweep resumes where it stopped.
"""

import itertools
import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class LogUniform:
    low: float | int
    high: float | int

    def sample(self, rng: random.Random) -> float:
        return math.exp(rng.uniform(math.log(self.low), math.log(self.high)))

    def to_wandb(self) -> dict:
        return {"distribution": "log_uniform_values", "min": self.low, "max": self.high}


@dataclass(frozen=True)
class Uniform:
    low: float | int
    high: float | int

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low, self.high)

    def to_wandb(self) -> dict:
        return {"distribution": "uniform", "min": self.low, "max": self.high}


@dataclass(frozen=True)
class Choice:
    values: tuple

    def sample(self, rng: random.Random) -> Any:
        return rng.choice(self.values)

    def to_wandb(self) -> dict:
        return {"values": list(self.values)}


def grid(space: dict[str, list]) -> list[dict[str, Any]]:
    """Every combination of the listed values (the last key varies fastest)."""
    keys = list(space)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*space.values())]


def random_configs(space: dict[str, Any], n: int, seed: int = 0) -> list[dict[str, Any]]:
    """`n` configurations; each value is drawn from its distribution (or taken as a constant)."""
    rng = random.Random(seed)
    return [
        {k: v.sample(rng) if hasattr(v, "sample") else v for k, v in space.items()}
        for _ in range(n)
    ]


def wandb_sweep_config(
    space: dict[str, Any],
    method: str = "random",
    metric: str = "test_accuracy",
    goal: str = "maximize",
    program: str | None = None,
) -> dict[str, Any]:
    """The same search as a W&B sweep (`wandb sweep config.yaml`, then `wandb agent <id>`)."""
    if method not in ("grid", "random", "bayes"):
        raise ValueError(f"unknown sweep method {method!r}")
    params = {}
    for key, value in space.items():
        if hasattr(value, "to_wandb"):
            params[key] = value.to_wandb()
        elif isinstance(value, (list, tuple)):
            params[key] = {"values": list(value)}
        else:
            params[key] = {"value": value}
    config = {"method": method, "metric": {"name": metric, "goal": goal}, "parameters": params}
    if program is not None:
        config["program"] = program
    return config


def config_key(config: dict[str, Any]) -> str:
    return json.dumps(config, sort_keys=True, default=str)


@dataclass
class Trial:
    config: dict[str, Any]
    metrics: dict[str, Any]
    seconds: float


def load_trials(path: str | Path) -> list[Trial]:
    path = Path(path)
    if not path.exists():
        return []
    trials = []
    for line in path.read_text().splitlines():
        if line.strip():
            try:
                trials.append(Trial(**json.loads(line)))
            except (json.JSONDecodeError, TypeError):
                continue  # a line cut short by an interrupt: that trial simply runs again
    return trials


def run_sweep(
    configs: list[dict[str, Any]],
    objective: Callable[[dict[str, Any]], dict[str, Any]],
    results_path: str | Path,
    on_trial: Callable[[int, Trial], None] | None = None,
) -> list[Trial]:
    """Run `objective(config)` for each config not yet in `results_path`; return all trials
    of `configs` in order (recorded ones included)."""
    results_path = Path(results_path)
    results_path.parent.mkdir(parents=True, exist_ok=True)
    done = {config_key(t.config): t for t in load_trials(results_path)}
    if results_path.exists() and not results_path.read_bytes().endswith(b"\n"):
        with results_path.open("a") as fh:  # end a line cut short by a kill, keep the next intact
            fh.write("\n")
    trials = []
    for i, config in enumerate(configs):
        key = config_key(config)
        if key not in done:
            start = time.perf_counter()
            metrics = objective(config)
            trial = Trial(config, dict(metrics), time.perf_counter() - start)
            with results_path.open("a") as fh:
                fh.write(json.dumps(trial.__dict__, default=str) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            done[key] = trial
            if on_trial is not None:
                on_trial(i, trial)
        trials.append(done[key])
    return trials


def markdown_table(trials: list[Trial], sort_by: str, descending: bool = True) -> str:
    """Trials as a markdown table, best first."""
    keys = list(trials[0].config) if trials else []
    metric_keys = list(trials[0].metrics) if trials else []
    fmt = lambda v: f"{v:.4g}" if isinstance(v, float) else str(v)
    lines = [
        "| " + " | ".join(["rank", *keys, *metric_keys]) + " |",
        "|" + "---|" * (1 + len(keys) + len(metric_keys)),
    ]
    ranked = sorted(trials, key=lambda t: t.metrics[sort_by], reverse=descending)
    for rank, t in enumerate(ranked, 1):
        cells = [
            str(rank),
            *(fmt(t.config[k]) for k in keys),
            *(fmt(t.metrics[k]) for k in metric_keys),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
