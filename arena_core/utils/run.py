"""A day's run: seeding, device, output directory, `metrics.json`, figures and `--publish`.

Every day script wraps its work in a `Run`:

    def main(args: Args) -> dict:
        with Run(day=12, args=args) as run:
            run.record_source("data", data.source)
            ...
            run.save_fig(fig, "loss_curve")
            return run.finish({"test_accuracy": acc})

`metrics.json` records the seed, device, torch thread count, data/model sources, the args, package
versions, the git commit and the wall time. `--threads N` sets torch's intra-op thread count for the
run and restores the previous count on exit: networks of many small ops often run fastest on one
thread (a second one only adds synchronisation, and on a busy machine it can cost 10x), so such days
default to `threads = 1` in their `Args`. If the body raises (or Ctrl-C interrupts it),
`metrics.json` is still written, with `"status": "interrupted"` or `"failed"` and whatever `run.log`
recorded so far. With `--publish`, `finish` copies the figures and `metrics.json` to
`blog_posts/figures/day_NNN/`, the directory blog posts quote from. A published number must be tied
to the code that made it, so `--publish` refuses (`DirtyTreeError`, before any work) when tracked
code has uncommitted changes; `--allow-dirty` overrides that for experiments, and the `+dirty`
commit and the flag are then recorded in metrics.json.
"""

import datetime as _dt
import json
import math
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from arena_core import REPO_ROOT, __version__
from arena_core.errors import ArgumentError, UserError
from arena_core.utils.device import resolve_device
from arena_core.utils.figures import plot_style
from arena_core.utils.figures import save_fig as _save_fig
from arena_core.utils.seed import seed_everything


def default_out_dir(day: int) -> Path:
    return REPO_ROOT / "runs" / f"day_{day:03d}"


def publish_dir(day: int) -> Path:
    return REPO_ROOT / "blog_posts" / "figures" / f"day_{day:03d}"


#: Paths whose uncommitted changes don't make a run "dirty": what a run writes or a writer edits
#: (published figures, notes, posts, Markdown docs). Everything else tracked counts as code.
NOT_CODE = (":(exclude)blog_posts", ":(exclude)daily_notes", ":(exclude)*.md")


class OutDirError(UserError, OSError):
    """The output directory can't be created or written."""


def check_out_dir(path: Path) -> Path:
    """Create `path` if needed and prove it is writable, before any work starts."""
    import tempfile

    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        reason = err.strerror or type(err).__name__
        raise OutDirError(
            f"output directory {path} is not usable ({reason}); pass --out-dir with a "
            "directory you can write to"
        ) from err
    return path


class DirtyTreeError(UserError, RuntimeError):
    """`--publish` on a tree whose tracked code has uncommitted changes (or no git at all)."""


def uncommitted_code_changes(root: Path = REPO_ROOT) -> list[str] | None:
    """Tracked files (outside `NOT_CODE`) with uncommitted changes; None when git can't tell."""
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "--", ".", *NOT_CODE],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if status.returncode != 0:
        return None
    return [line[3:] for line in status.stdout.splitlines() if line.strip()]


def git_commit(root: Path = REPO_ROOT) -> str | None:
    """The current commit hash, with `+dirty` when tracked code has uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    changed = uncommitted_code_changes(root)
    return head.stdout.strip() + ("+dirty" if changed or changed is None else "")


def check_publishable(allow_dirty: bool, root: Path = REPO_ROOT) -> None:
    """Refuse to publish numbers that can't be tied to a commit (unless `allow_dirty`)."""
    if allow_dirty:
        return
    changed = uncommitted_code_changes(root)
    if changed is None:
        raise DirtyTreeError(
            f"--publish needs a git checkout to record the commit ({root} is not one); "
            "pass --allow-dirty to publish anyway (recorded in metrics.json)"
        )
    if changed:
        shown = ", ".join(changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        raise DirtyTreeError(
            f"--publish refuses a tree with uncommitted code changes ({shown}): commit them, "
            "or pass --allow-dirty for an experiment (recorded in metrics.json)"
        )


def package_versions(extra: tuple[str, ...] = ()) -> dict[str, str]:
    """Versions of Python, arena_core, and of the key packages that are already imported."""
    versions = {"python": platform.python_version(), "arena_core": __version__}
    for name in ("torch", "numpy", "torchvision", "transformers", "transformer_lens", *extra):
        module = sys.modules.get(name)
        if module is not None and hasattr(module, "__version__"):
            versions[name] = str(module.__version__)
    return versions


def _jsonable(value: Any) -> Any:
    """Turn tensors, numpy scalars, paths and dataclasses into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no inf/nan; keep them readable
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 0) == 0:
        return _jsonable(value.item())
    if hasattr(value, "tolist"):
        return _jsonable(value.tolist())
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def _set_threads(threads: int) -> int | None:
    """Set torch's intra-op thread count when `threads > 0`; return the previous count."""
    if threads < 0:
        raise ArgumentError(f"threads must be >= 0 (0 = torch's default), got {threads}")
    if threads == 0:
        return None
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    return previous


def _restore_threads(previous: int | None) -> None:
    if previous is not None:
        import torch

        torch.set_num_threads(previous)


def _current_threads() -> int:
    import torch

    return torch.get_num_threads()


class Run:
    """Context manager for one run of a day script; see the module docstring."""

    def __init__(self, day: int, args: Any, quiet: bool = False):
        self.day = day
        self.args = args
        self.quiet = quiet
        self.smoke = bool(getattr(args, "smoke", False))
        self.publish = bool(getattr(args, "publish", False))
        if self.smoke and self.publish:
            raise ArgumentError("--publish needs a full run; drop --smoke")
        if self.publish:
            check_publishable(bool(getattr(args, "allow_dirty", False)))
        out = getattr(args, "out_dir", None)
        self.out_dir = Path(out) if out is not None else default_out_dir(day)
        self.sources: dict[str, str] = {}
        self.logged: dict[str, Any] = {}
        self.figures: list[Path] = []
        self.extra_files: list[Path] = []
        self._finished: dict[str, Any] | None = None
        self._start = 0.0
        self._started_at = ""
        self._previous_threads: int | None = None
        self._style = plot_style()

    # --- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "Run":
        self._start = time.perf_counter()
        self._started_at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
        # The code that runs is the code of the start: edits made during a long run don't count.
        self._commit = git_commit()
        self.generator = seed_everything(int(getattr(self.args, "seed", 0)))
        self.device = resolve_device(getattr(self.args, "device", "auto"))
        check_out_dir(self.out_dir)  # before threads are changed: nothing to undo if it fails
        self._previous_threads = _set_threads(int(getattr(self.args, "threads", 0) or 0))
        self.torch_threads = _current_threads()
        self._style.__enter__()  # every figure of the run gets the project's look
        mode = "smoke" if self.smoke else "full"
        self.print(f"day {self.day:03d} ({mode} run) on {self.device}; outputs in {self.out_dir}")
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        _restore_threads(self._previous_threads)
        self._style.__exit__(None, None, None)
        if exc_type is None:
            if self._finished is None:
                raise RuntimeError("a Run must end with `return run.finish(metrics)`")
            return False
        status = "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "failed"
        self._write_metrics(dict(self.logged), status=status, error=f"{exc_type.__name__}: {exc}")
        if not issubclass(exc_type, UserError):  # the day runner reports those in one line
            self.print(f"run {status}; what finished is in {self.out_dir}", err=True)
        return False

    # --- recording -------------------------------------------------------------------------
    def print(self, message: str, err: bool = False) -> None:
        if not self.quiet:
            print(message, file=sys.stderr if err else sys.stdout, flush=True)

    def record_source(self, kind: str, description: str) -> None:
        """Say which data/model source this run used (`kind` is e.g. "data" or "model")."""
        self.sources[kind] = description

    def log(self, **values: Any) -> None:
        """Keep intermediate results; they reach metrics.json even if the run is interrupted."""
        self.logged.update(values)

    def save_fig(self, fig, name: str) -> Path:
        path = _save_fig(fig, self.out_dir / name)
        self.figures.append(path)
        return path

    def add_file(self, path: str | Path) -> Path:
        """Register an extra artefact (GIF, table) written into out_dir, published with figures."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(path)
        self.extra_files.append(path)
        return path

    def checkpoint_path(self, name: str = "checkpoint.pt") -> Path:
        return self.out_dir / "checkpoints" / name

    # --- the end ---------------------------------------------------------------------------
    def finish(self, metrics: dict[str, Any]) -> dict[str, Any]:
        """Write metrics.json (and publish when asked); print a summary; return `metrics`."""
        merged = {**self.logged, **metrics}
        self._write_metrics(merged, status="complete")
        if self.publish:
            self._publish()
        width = max((len(k) for k in metrics), default=0)
        self.print("summary:")
        for key, value in metrics.items():
            shown = f"{value:.6g}" if isinstance(value, float) else value
            self.print(f"  {key:<{width}}  {shown}")
        self._finished = metrics
        return metrics

    def _write_metrics(
        self, metrics: dict[str, Any], status: str, error: str | None = None
    ) -> Path:
        from arena_core.curriculum import get_day

        args = {k: v for k, v in vars(self.args).items()} if hasattr(self.args, "__dict__") else {}
        record = {
            "day": self.day,
            "topic": get_day(self.day).topic,
            "status": status,
            "smoke": self.smoke,
            "seed": getattr(self.args, "seed", None),
            "device": str(getattr(self, "device", "")),
            "torch_threads": getattr(self, "torch_threads", None),
            "sources": self.sources,
            "metrics": metrics,
            "args": args,
            "figures": [p.name for p in self.figures],
            "versions": package_versions(),
            "git_commit": getattr(self, "_commit", None),
            "started_at": self._started_at,
            "wall_time_s": round(time.perf_counter() - self._start, 3),
        }
        if error:
            record["error"] = error
        path = self.out_dir / "metrics.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(_jsonable(record), indent=2) + "\n")
        tmp.replace(path)
        return path

    def _publish(self) -> None:
        dest = publish_dir(self.day)
        dest.mkdir(parents=True, exist_ok=True)
        # A figure the script no longer makes must not linger next to the new ones.
        for stale in dest.iterdir():
            if stale.is_file() and stale.suffix.lower() in {".png", ".gif", ".html", ".json"}:
                stale.unlink()
        for path in [*self.figures, *self.extra_files, self.out_dir / "metrics.json"]:
            shutil.copy2(path, dest / path.name)
        self.print(f"published {len(self.figures)} figure(s) and metrics.json to {dest}")
