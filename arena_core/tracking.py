"""Experiment tracking with Weights & Biases, opt-in, working offline (day 17, used by 18-19).

Three modes:
- `disabled` (default): wandb is not even imported; logged values are kept in `tracker.history`.
- `offline`: a real wandb run written to `<dir>/wandb/offline-run-*/run-*.wandb`, no network and
  no account needed; upload it later with `wandb sync <that directory>`.
- `online`: streams to wandb.ai. Needs an API key (`wandb login` or `WANDB_API_KEY`); without one
  we fail at once with a clear message, and with a key but no network wandb gives up after
  `init_timeout` seconds (its own default is 90) instead of hanging.

`WANDB_MODE=disabled` in the environment is a kill switch that overrides any requested mode (the
test suite sets it), whereas wandb itself would let an explicit `mode=` argument win.

    with Tracker(mode="offline", project="arena", config=vars(args), dir=out_dir) as tracker:
        tracker.log({"loss": 0.3, "lr": 1e-3}, step=10)
        tracker.summary(test_accuracy=0.97)
"""

import netrc
import os
from pathlib import Path
from typing import Any

from arena_core.errors import UserError

MODES = ("disabled", "offline", "online")


class TrackingError(UserError, RuntimeError):
    """wandb could not start a run in the requested mode."""


def has_api_key() -> bool:
    """True when wandb could authenticate: `WANDB_API_KEY` or a netrc entry for its host."""
    if os.environ.get("WANDB_API_KEY"):
        return True
    host = os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai").split("://")[-1].split("/")[0]
    path = Path(os.environ.get("NETRC", Path.home() / ".netrc"))
    try:
        return path.exists() and netrc.netrc(path).authenticators(host) is not None
    except (netrc.NetrcParseError, OSError):
        return False


class Tracker:
    def __init__(
        self,
        mode: str = "disabled",
        project: str = "arena-mechanistic-learning",
        name: str | None = None,
        config: dict[str, Any] | None = None,
        dir: str | Path | None = None,
        group: str | None = None,
        tags: list[str] | None = None,
        init_timeout: float = 30.0,
    ):
        if mode not in MODES:
            raise ValueError(f"tracking mode must be one of {MODES}, got {mode!r}")
        if os.environ.get("WANDB_MODE") == "disabled":
            mode = "disabled"
        self.mode = mode
        self.history: list[dict[str, Any]] = []
        self.summary_values: dict[str, Any] = {}
        self.run = None
        if mode == "disabled":
            return
        if mode == "online" and not has_api_key():
            raise TrackingError(
                "wandb online mode needs an API key: run `wandb login` or set WANDB_API_KEY "
                "(or use mode='offline' and upload later with `wandb sync`)"
            )
        import wandb

        if dir is not None:
            Path(dir).mkdir(parents=True, exist_ok=True)
        try:
            self.run = wandb.init(
                project=project,
                name=name,
                config=_plain(config or {}),
                group=group,
                tags=tags,
                dir=str(dir) if dir is not None else None,
                mode=mode,
                reinit="finish_previous",
                settings=wandb.Settings(init_timeout=init_timeout, silent=True),
            )
        except Exception as exc:  # wandb raises its own error types (CommError, UsageError, ...)
            hint = " (is the network reachable? try mode='offline')" if mode == "online" else ""
            raise TrackingError(f"wandb.init failed in {mode} mode{hint}: {exc}") from exc

    @property
    def run_dir(self) -> Path | None:
        """The run's directory (`offline-run-*` in offline mode), None when disabled."""
        return Path(self.run.dir).parent if self.run is not None else None

    def log(self, metrics: dict[str, Any], step: int | None = None) -> None:
        self.history.append({**metrics, **({"step": step} if step is not None else {})})
        if self.run is not None:
            self.run.log(_plain(metrics), step=step)

    def summary(self, **values: Any) -> None:
        self.summary_values.update(values)
        if self.run is not None:
            for key, value in _plain(values).items():
                self.run.summary[key] = value

    def log_table(self, name: str, columns: list[str], rows: list[list[Any]]) -> None:
        if self.run is not None:
            import wandb

            self.run.log({name: wandb.Table(columns=columns, data=_plain(rows))})

    def log_image(self, name: str, path: str | Path) -> None:
        if self.run is not None:
            import wandb

            self.run.log({name: wandb.Image(str(path))})

    def save_file(self, path: str | Path) -> None:
        """Attach a file (CSV table, checkpoint) to the run."""
        if self.run is not None:
            self.run.save(str(path), base_path=str(Path(path).parent), policy="now")

    def finish(self) -> None:
        if self.run is not None:
            self.run.finish()

    def __enter__(self) -> "Tracker":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self.run is not None:
            self.run.finish(exit_code=0 if exc_type is None else 1)


def _plain(value: Any) -> Any:
    """Tensors/paths/numpy scalars to plain Python values wandb accepts."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return value
