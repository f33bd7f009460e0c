"""Errors that are the user's to fix, as opposed to bugs.

`UserError` is the base of every error whose message tells the user what to change: a device that
is not there, data or a model that is not installed, a checkpoint option we do not implement, an
output directory that cannot be written, a flag value out of range, publishing from a modified
tree. The day runner (`arena_core.utils.entry.run_script`) and the `arena` command print such an
error as one line and exit with code 2; any other exception is a bug and keeps its traceback.
`--debug` (or env `ARENA_DEBUG=1`) shows the traceback of every error.

Each subclass also derives from the built-in error it used to be (`RuntimeError`, `ValueError`,
...), so `except ValueError` in a caller keeps working.
"""

import os


class UserError(Exception):
    """An error whose message names the problem and the way out (see the module docstring)."""


class ArgumentError(UserError, ValueError):
    """A flag or argument value that is out of range or contradicts another one."""


def debug_requested(args: object = None) -> bool:
    """`--debug` on a day's command line (`args.debug`), or env `ARENA_DEBUG` set to true."""
    env = os.environ.get("ARENA_DEBUG", "").strip().lower() in {"1", "true", "yes", "on"}
    return env or bool(getattr(args, "debug", False))


def one_line(err: BaseException) -> str:
    """The error's message with its whitespace (newlines included) collapsed."""
    return " ".join(str(err).split()) or type(err).__name__
