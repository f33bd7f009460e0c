"""Where models live on disk: the arena cache and the user's model directory (days 29–98).

- `ARENA_CACHE` (default `~/.cache/arena`): conversions we write once (SmolLM2 as safetensors,
  tokenizer directories) under `<cache>/models/<name>/`.
- `ARENA_MODELS`: a directory of the user's own checkpoints; `<ARENA_MODELS>/<name>` is tried
  before the hub (e.g. a `save_pretrained` copy of gpt2).
- `ARENA_OFFLINE=1` (or `HF_HUB_OFFLINE=1`): never try the hub.
"""

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path


def cache_root() -> Path:
    return Path(os.environ.get("ARENA_CACHE") or Path.home() / ".cache" / "arena")


def model_cache_dir(name: str) -> Path:
    return cache_root() / "models" / name


def user_models_dir() -> Path | None:
    value = os.environ.get("ARENA_MODELS")
    return Path(value).expanduser() if value else None


def offline() -> bool:
    return any(os.environ.get(v, "") not in ("", "0") for v in ("ARENA_OFFLINE", "HF_HUB_OFFLINE"))


def hub_reachable(host: str = "huggingface.co", timeout: float = 3.0) -> bool:
    """A quick TCP probe, so an offline machine fails in seconds instead of after HF's retries."""
    import socket

    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def build_dir_atomically(target: Path, build: Callable[[Path], None]) -> Path:
    """Run `build(tmp_dir)` and move the finished directory to `target` in one rename, so a
    crash or a concurrent run never leaves a half-written cache entry behind."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(tmp)
        try:
            os.replace(tmp, target)  # atomic; fails if another process finished first
        except OSError:
            if not target.exists():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
