"""Command-line parsing for day scripts: one `Args` dataclass per day becomes its argparse CLI.

Every day's `Args` subclasses `DayArgs`, which holds the common flags (same spelling in every day):
`--smoke`, `--seed`, `--device`, `--threads`, `--out-dir`, `--publish`, `--allow-dirty`. A field's
help text is the comment at the end of its line, so the dataclass stays the single documented place
for a day's settings:

    @dataclass
    class Args(DayArgs):
        lr: float = 0.1  # learning rate of plain SGD

Bad input (unknown flag, wrong type) prints one line and exits with code 2.
"""

import argparse
import dataclasses
import inspect
import re
import sys
import types
import typing
from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeVar, get_args, get_origin

T = TypeVar("T")


@dataclasses.dataclass
class DayArgs:
    """Flags shared by every day script."""

    seed: int = 0  # random seed for Python, NumPy and torch
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    threads: int = 0  # torch CPU threads for this run (0 = torch's default; restored afterwards)
    out_dir: Path | None = None  # where metrics.json and figures go (default runs/day_NNN/)
    smoke: bool = False  # tiny sizes that finish in seconds on a CPU (what the tests run)
    publish: bool = False  # also copy figures and metrics to blog_posts/figures/day_NNN/
    allow_dirty: bool = False  # let --publish run with uncommitted code changes (recorded)
    debug: bool = False  # show the full traceback of any error (also: env ARENA_DEBUG=1)


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but errors are a single line (no usage dump) and exit code 2."""

    def error(self, message: str) -> typing.NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _field_comments(cls: type) -> dict[str, str]:
    """Map field name -> trailing `# comment` in the class bodies of `cls` and its bases."""
    comments: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        for match in re.finditer(r"^\s+(\w+)\s*:[^#\n]*#\s*(.+)$", source, flags=re.MULTILINE):
            comments[match.group(1)] = match.group(2).strip()
    return comments


def _unwrap_optional(tp: object) -> tuple[object, bool]:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in get_args(tp) if a is not type(None)]
        if len(members) == 1 and len(get_args(tp)) == 2:
            return members[0], True
    return tp, False


def _converter(tp: object):
    if tp is bool:
        raise TypeError("bool fields are handled as flags")
    if get_origin(tp) is Literal:
        choices = get_args(tp)
        kind = type(choices[0])
        return kind, choices
    if tp in (int, float, str, Path):
        return tp, None
    raise TypeError(
        f"unsupported Args field type {tp!r} (use int, float, str, Path, Literal, bool)"
    )


def build_parser(cls: type, prog: str | None = None) -> argparse.ArgumentParser:
    """An argparse parser with one `--kebab-case` option per dataclass field of `cls`."""
    doc = inspect.getdoc(cls) if cls.__doc__ else None
    module_doc = sys.modules[cls.__module__].__doc__ if cls.__module__ in sys.modules else None
    parser = _OneLineParser(
        prog=prog,
        description=(module_doc or doc or "").strip().split("\n\n")[0] or None,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    comments = _field_comments(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        tp, optional = _unwrap_optional(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        help_text = comments.get(f.name, " ")
        if tp is bool:
            parser.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=default,
                help=help_text,
            )
            continue
        convert, choices = _converter(tp)
        parser.add_argument(
            flag,
            dest=f.name,
            type=convert,
            choices=choices,
            default=default,
            metavar=None if choices else tp.__name__.upper() if isinstance(tp, type) else None,
            help=help_text + (" (optional)" if optional else ""),
        )
    return parser


def cli(cls: type[T], argv: Sequence[str] | None = None, prog: str | None = None) -> T:
    """Parse `argv` (default: `sys.argv[1:]`) into an instance of the dataclass `cls`."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    parser = build_parser(cls, prog=prog)
    namespace = parser.parse_args(argv)
    args = cls(**vars(namespace))
    if getattr(args, "smoke", False) and getattr(args, "publish", False):
        parser.error("--publish needs a full run; drop --smoke")
    if getattr(args, "publish", False):
        from arena_core.utils.run import DirtyTreeError, check_publishable

        try:
            check_publishable(bool(getattr(args, "allow_dirty", False)))
        except DirtyTreeError as err:
            parser.error(str(err))
    return args
