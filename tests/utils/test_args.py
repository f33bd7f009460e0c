"""The day-script CLI: flags from the Args dataclass, one-line errors with exit code 2."""

import dataclasses
from pathlib import Path
from typing import Literal

import pytest

from arena_core.utils.args import DayArgs, build_parser, cli


@dataclasses.dataclass
class ExampleArgs(DayArgs):
    lr: float = 0.1  # learning rate
    steps: int = 10  # number of steps
    mode: Literal["a", "b"] = "a"  # which mode
    data_dir: Path | None = None  # optional path
    plot: bool = True  # draw a figure


def test_defaults_and_common_flags():
    args = cli(ExampleArgs, [])
    assert args == ExampleArgs()
    args = cli(ExampleArgs, ["--smoke", "--seed", "3", "--device", "cpu", "--out-dir", "x"])
    assert (args.smoke, args.seed, args.device, args.out_dir) == (True, 3, "cpu", Path("x"))


def test_types_are_converted():
    args = cli(ExampleArgs, ["--lr", "0.5", "--steps", "7", "--mode", "b", "--no-plot"])
    assert (args.lr, args.steps, args.mode, args.plot) == (0.5, 7, "b", False)
    assert isinstance(args.steps, int) and isinstance(args.lr, float)


@pytest.mark.parametrize(
    "argv",
    [["--unknown"], ["--steps", "ten"], ["--mode", "c"], ["--smoke", "--publish"]],
)
def test_bad_input_exits_2_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as info:
        cli(ExampleArgs, argv, prog="day")
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("day: error:")


def test_help_uses_field_comments():
    text = build_parser(ExampleArgs).format_help()
    assert "learning rate" in text and "tiny sizes" in text and "--out-dir" in text
