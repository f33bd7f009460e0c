"""arena_core: the shared, tested library behind the 100-day ARENA curriculum.

Nothing heavy is imported here, so `arena list` starts fast; import the submodule you need
(`arena_core.utils`, `arena_core.data`, ...).
"""

from pathlib import Path

__version__ = "0.1.0"

#: The repository root (arena_core lives flat at the top of the repo).
REPO_ROOT = Path(__file__).resolve().parent.parent
