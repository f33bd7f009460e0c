"""The `arena` console command: listing, info, running, and one-line errors with exit code 2."""

import subprocess
import sys

import pytest

from arena_core.cli import main
from arena_core.curriculum import DAYS


def run_cli(*argv):
    return subprocess.run(
        [sys.executable, "-m", "arena_core.cli", *argv], capture_output=True, text=True, timeout=300
    )


def test_list_shows_all_days(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == len(DAYS) + 2
    assert "Capstone: Research Proposal" in out


def test_list_by_module(capsys):
    assert main(["list", "--module", "2"]) == 0
    out = capsys.readouterr().out
    assert "Deep Q-Network" in out and "Ray Tracing" not in out


def test_list_does_not_import_torch():
    code = (
        "import sys; from arena_core.cli import main; main(['list']); "
        "assert 'torch' not in sys.modules"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "0"],
        ["run", "101"],
        ["run", "abc"],
        ["run"],
        ["info", "-3"],
        ["list", "--module", "9"],
        ["frobnicate"],
        ["run", "100"],  # prose-only day
        ["run", "77"],  # design document
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.strip().count("\n") == 0 and captured.err.startswith("arena: error:")
    assert "Traceback" not in captured.err


def test_unwritten_day_is_reported():
    unwritten = next((d for d in DAYS if d.is_runnable and not d.script.exists()), None)
    if unwritten is None:
        pytest.skip("every day is written")
    result = run_cli("run", str(unwritten.number))
    assert result.returncode == 2 and "not written yet" in result.stderr
    assert "Traceback" not in result.stderr


def test_run_passes_flags_and_rejects_unknown_ones(tmp_path):
    day = next(d for d in DAYS if d.is_runnable and d.script.exists())
    ok = run_cli("run", str(day.number), "--smoke", "--device", "cpu", "--out-dir", str(tmp_path))
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "metrics.json").exists()
    bad = run_cli("run", str(day.number), "--no-such-flag")
    assert bad.returncode == 2
    assert bad.stderr.strip().count("\n") == 0 and "no-such-flag" in bad.stderr


def test_info_shows_paths(capsys):
    assert main(["info", "12"]) == 0
    out = capsys.readouterr().out
    assert "MNIST Classifier" in out and "02_cnns_resnets/day_012_mnist.py" in out
