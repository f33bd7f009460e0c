"""A user's mistake inside a run is one line on stderr and exit code 2; a bug keeps its traceback.

Each case runs in a fresh interpreter twice, through `arena run N ...` and through the day script
run directly, as a user would. The errors come from the real code paths (no CUDA here, gpt2 not
cached offline, Fashion-MNIST hidden, an output directory that can't be created).
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from arena_core.curriculum import get_day
from arena_core.data import DataUnavailableError
from arena_core.utils import DayArgs, Run, run_script
from arena_core.utils.run import OutDirError, check_out_dir

CASES = {  # name -> (day, flags, what the one line must say)
    "no_cuda": (1, ["--device", "cuda", "--smoke"], "CUDA is not available"),
    "out_dir": (12, ["--smoke", "--out-dir", "/proc/forbidden/run"], "is not usable"),
    "no_model": (29, ["--model", "gpt2"], "gpt2 is not cached"),
    "no_data": (23, ["--smoke", "--datasets", "fashion_mnist"], "none of the datasets"),
    "bad_layer": (46, ["--smoke", "--layer", "99"], "--layer must be in 0..29"),
}


def _run(how: str, day: int, flags: list[str], tmp_path: Path, **env: str):
    """Run day `day` in a fresh interpreter, offline, with Fashion-MNIST hidden and no gpt2."""
    if "--out-dir" not in flags:
        flags = [*flags, "--out-dir", str(tmp_path / "run")]
    if how == "arena":
        cmd = [sys.executable, "-m", "arena_core.cli", "run", str(day), *flags]
    else:
        cmd = [sys.executable, str(get_day(day).script), *flags]
    offline = {"ARENA_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "ARENA_NO_SYSTEM_DATA": "1"}
    full_env = {k: v for k, v in os.environ.items() if k != "ARENA_DEBUG"}
    full_env |= offline | {"ARENA_MODELS": str(tmp_path / "models")} | env
    return subprocess.run(
        cmd, capture_output=True, text=True, env=full_env, timeout=300, cwd=tmp_path
    )


@pytest.mark.parametrize("how", ["arena", "script"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_user_error_is_one_line(case, how, tmp_path):
    day, flags, says = CASES[case]
    if case == "no_cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA, so --device cuda is not a mistake here")
    result = _run(how, day, flags, tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2, result.stderr
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert says in lines[0] and ": error: " in lines[0]
    if case == "no_data":  # the run had started: its directory says it failed, and why
        record = json.loads((tmp_path / "run" / "metrics.json").read_text())
        assert record["status"] == "failed" and "DataUnavailableError" in record["error"]


@pytest.mark.parametrize("how, env", [("arena", {}), ("script", {"ARENA_DEBUG": "1"})])
def test_debug_shows_the_traceback(how, env, tmp_path):
    day, flags, says = CASES["no_data"]
    flags = [*flags, "--debug"] if not env else flags
    result = _run(how, day, flags, tmp_path, **env)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and says in result.stderr


def _main_raising(exc: BaseException):
    def main(args):
        with Run(day=1, args=args, quiet=True):
            raise exc

    return main


def test_a_bug_keeps_its_traceback(tmp_path):
    with pytest.raises(ZeroDivisionError):
        run_script(_main_raising(ZeroDivisionError("bug")), DayArgs, ["--out-dir", str(tmp_path)])
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "failed"


def test_user_error_in_process(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ARENA_DEBUG", raising=False)
    err = DataUnavailableError("no data here;\n  install it")
    with pytest.raises(SystemExit) as info:
        run_script(_main_raising(err), DayArgs, ["--out-dir", str(tmp_path)])
    assert info.value.code == 2
    assert capsys.readouterr().err.strip().endswith("error: no data here; install it")
    with pytest.raises(SystemExit) as info:
        run_script(_main_raising(KeyboardInterrupt()), DayArgs, ["--out-dir", str(tmp_path)])
    assert info.value.code == 130
    assert json.loads((tmp_path / "metrics.json").read_text())["status"] == "interrupted"


def test_out_dir_is_checked_before_any_work(tmp_path):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for bad in (a_file, a_file / "sub"):
        with pytest.raises(OutDirError, match="not usable"):
            check_out_dir(bad)
    started = []
    with pytest.raises(SystemExit):
        run_script(lambda args: started.append(1), DayArgs, ["--out-dir", str(a_file / "sub")])
    assert not started
    assert check_out_dir(tmp_path / "new" / "dir").is_dir()
