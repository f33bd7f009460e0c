"""Where data comes from: the resolution order shared by every loader in `arena_core.data`.

Each loader tries, in order (DESIGN.md, "Offline defaults and the real thing"):

1. an explicit `root=` argument, else the directory in the env var `ARENA_DATA`;
2. the local cache, `cache_dir()` = env `ARENA_CACHE`, default `~/.cache/arena`;
3. (dataset-specific local copies installed outside pip, e.g. the Debian Fashion-MNIST package;
   hidden when env `ARENA_NO_SYSTEM_DATA=1`, so that tests can prove nothing hard-depends on them);
4. a download into the cache, when allowed (`download=True`, or `download=None` and the env var
   `ARENA_OFFLINE` is not `1`);
5. the offline default shipped with a Python package, where one exists; otherwise
   `DataUnavailableError`.

The source actually used is returned as a human-readable string (`ImageDataset.source`), which day
scripts record in `metrics.json`. A *fallback* (a lower source used because a higher one was not
available) is reported in ONE line through the standard `logging` module, logger
`"arena_core.data"`, at WARNING level. With no logging configured, Python prints WARNING records
to stderr, so the line is visible by default; `logging.getLogger("arena_core.data").setLevel(
logging.ERROR)` silences it. Normal, non-fallback choices are logged at INFO.
"""

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from arena_core.errors import UserError

logger = logging.getLogger("arena_core.data")


class DataUnavailableError(UserError, RuntimeError):
    """No source for the requested dataset could be found (and none could be downloaded)."""


def cache_dir() -> Path:
    """The arena data cache: env `ARENA_CACHE`, default `~/.cache/arena` (not created here)."""
    return Path(os.environ.get("ARENA_CACHE") or "~/.cache/arena").expanduser()


def offline() -> bool:
    """True when env `ARENA_OFFLINE` is set to a true value (`1`, `true`, `yes`)."""
    return os.environ.get("ARENA_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def system_data_hidden() -> bool:
    """True when env `ARENA_NO_SYSTEM_DATA` is true: ignore data installed outside pip (Debian)."""
    return os.environ.get("ARENA_NO_SYSTEM_DATA", "").strip().lower() in {"1", "true", "yes", "on"}


def downloads_allowed(download: bool | None) -> bool:
    """`download=True/False` decides; `None` means "yes unless ARENA_OFFLINE is set"."""
    return (not offline()) if download is None else bool(download)


def why_no_download(download: bool | None) -> str:
    """Why `downloads_allowed(download)` said no, for the fallback line."""
    return "download=False" if download is False else "ARENA_OFFLINE=1"


def user_roots(root: str | Path | None) -> list[Path]:
    """The explicit root, else `$ARENA_DATA`, as a list of zero or one directories."""
    if root is not None:
        return [Path(root).expanduser()]
    env = os.environ.get("ARENA_DATA")
    return [Path(env).expanduser()] if env else []


def candidate_dirs(root: str | Path | None, subdirs: Iterable[str]) -> list[Path]:
    """Directories to search, in order: each user root itself and its `subdirs`, then the cache.

    `subdirs` are the layouts people already have, e.g. `("mnist", "MNIST/raw")` so that a
    torchvision download directory works as `root=` unchanged.
    """
    subdirs = list(subdirs)
    dirs = []
    for base in user_roots(root):
        dirs += [base] + [base / s for s in subdirs]
    return dirs + [cache_dir() / subdirs[0]]


def log_fallback(message: str) -> None:
    """Report a fallback in one line (logger `arena_core.data`, WARNING)."""
    logger.warning("arena_core.data: %s", " ".join(message.split()))
