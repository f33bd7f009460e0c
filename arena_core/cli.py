"""The `arena` command: list the 100 days, show one, run one.

    arena list [--module N]       table of days with their status (N = ARENA chapter 0..4)
    arena info N                  topic, ARENA link, paths and the last run's metrics
    arena run N [day flags...]    run day N's script, e.g. `arena run 12 --smoke`
    arena readme [--check]        regenerate (or check) the README's days table

Bad input gives one line on stderr and exit code 2. `list`, `info` and `readme` never import torch.
"""

import argparse
import json
import runpy
import sys
from pathlib import Path

from arena_core import REPO_ROOT
from arena_core.curriculum import (
    CHAPTER_NAMES,
    DAYS,
    UnknownDayError,
    days_in_chapter,
    get_day,
    render_readme,
)
from arena_core.errors import UserError, debug_requested, one_line


class UsageError(Exception):
    """Bad input from the user: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):
        raise UsageError(message)


def _cmd_list(ns: argparse.Namespace) -> int:
    if ns.module is not None and ns.module not in CHAPTER_NAMES:
        raise UsageError(f"no module {ns.module}: modules are {sorted(CHAPTER_NAMES)}")
    days = days_in_chapter(ns.module)
    if ns.module is not None:
        print(f"Module {ns.module}: {CHAPTER_NAMES[ns.module]}")
    print(f"{'day':>3}  {'status':<8}  {'section':<26}  topic")
    for d in days:
        print(f"{d.number:>3}  {d.status:<8}  {d.section[:26]:<26}  {d.topic}")
    done = sum(d.status == "complete" for d in days)
    print(f"{done}/{len(days)} complete")
    return 0


def _last_metrics(day) -> tuple[Path, dict] | None:
    for candidate in (
        REPO_ROOT / "runs" / day.tag / "metrics.json",
        day.figures_dir / "metrics.json",
    ):
        if candidate.exists():
            try:
                return candidate, json.loads(candidate.read_text())
            except json.JSONDecodeError:
                continue
    return None


def _cmd_info(ns: argparse.Namespace) -> int:
    day = _day(ns.day)
    print(f"Day {day.number}: {day.topic}")
    print(f"  ARENA section: {day.section}" + (f"  {day.url}" if day.url else ""))
    print(f"  status:        {day.status}")
    for name, path in (("script", day.script), ("note", day.note), ("blog", day.blog)):
        if path is None:
            continue
        rel = path.relative_to(REPO_ROOT)
        print(f"  {name + ':':<14} {rel}{'' if path.exists() else '  (not written yet)'}")
    found = _last_metrics(day)
    if found:
        path, record = found
        print(
            f"  last metrics ({path.relative_to(REPO_ROOT)}, {record.get('status')}, "
            f"{'smoke' if record.get('smoke') else 'full'} run):"
        )
        for key, value in record.get("metrics", {}).items():
            print(f"    {key}: {value}")
        for kind, source in record.get("sources", {}).items():
            print(f"    source[{kind}]: {source}")
    return 0


def _day(text: str):
    try:
        return get_day(text)
    except UnknownDayError as err:
        raise UsageError(str(err)) from None


def _cmd_run(ns: argparse.Namespace, day_args: list[str]) -> int:
    day = _day(ns.day)
    if not day.code:
        raise UsageError(f"day {day.number} ({day.topic}) has no script: read {day.note.name}")
    if not day.is_runnable:
        raise UsageError(f"day {day.number} is a design document, not a script: read {day.code}")
    if not day.script.exists():
        raise UsageError(f"day {day.number} ({day.topic}) is not written yet: {day.code}")
    old_argv = sys.argv
    sys.argv = [f"arena run {day.number}", *day_args]
    try:
        runpy.run_path(str(day.script), run_name="__main__")
    except UserError as err:  # day scripts report these themselves (run_script); a safety net
        if debug_requested() or "--debug" in day_args:
            raise
        print(f"arena: day {day.number}: error: {one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"arena: day {day.number} interrupted; finished work was kept", file=sys.stderr)
        return 130
    finally:
        sys.argv = old_argv
    return 0


def _cmd_readme(ns: argparse.Namespace) -> int:
    readme = REPO_ROOT / "README.md"
    text = readme.read_text()
    try:
        new = render_readme(text)
    except ValueError as err:
        raise UsageError(str(err)) from None
    if ns.check:
        if new != text:
            print("README.md days table is out of date: run `arena readme`", file=sys.stderr)
            return 1
        print("README.md days table is up to date")
        return 0
    readme.write_text(new)
    print(f"README.md days table regenerated ({len(DAYS)} days)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="arena", description="The 100-day ARENA curriculum, from the shell.")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    p_list = sub.add_parser("list", help="list the days and their status")
    p_list.add_argument("--module", type=int, default=None, help="ARENA chapter 0..4")
    p_info = sub.add_parser("info", help="show one day")
    p_info.add_argument("day")
    p_run = sub.add_parser("run", help="run a day's script (flags after N go to the day)")
    p_run.add_argument("day")
    p_readme = sub.add_parser("readme", help="regenerate the README's days table")
    p_readme.add_argument("--check", action="store_true", help="only check it is up to date")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        # `run` passes everything after the day number to the day script untouched.
        if len(argv) >= 1 and argv[0] == "run":
            if len(argv) < 2 or argv[1].startswith("-"):
                raise UsageError("usage: arena run N [day flags...]")
            ns = parser.parse_args(argv[:2])
            return _cmd_run(ns, argv[2:])
        ns = parser.parse_args(argv)
        if ns.command is None:
            parser.print_help()
            return 2
        return {"list": _cmd_list, "info": _cmd_info, "readme": _cmd_readme}[ns.command](ns)
    except UsageError as err:
        print(f"arena: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `arena list | head`: the reader left; stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
