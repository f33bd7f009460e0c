"""Utilities every day uses: seeding, devices, CLI args, runs + metrics.json, figures, timing."""

from arena_core.utils.args import DayArgs, cli
from arena_core.utils.checkpoint import load_checkpoint, save_checkpoint
from arena_core.utils.device import DeviceUnavailableError, resolve_device
from arena_core.utils.entry import run_script
from arena_core.utils.figures import save_fig
from arena_core.utils.progress import progress
from arena_core.utils.run import Run
from arena_core.utils.seed import seed_everything
from arena_core.utils.timing import Stopwatch, compare, time_call

__all__ = [
    "DayArgs",
    "DeviceUnavailableError",
    "Run",
    "Stopwatch",
    "cli",
    "compare",
    "load_checkpoint",
    "progress",
    "resolve_device",
    "run_script",
    "save_checkpoint",
    "save_fig",
    "seed_everything",
    "time_call",
]
