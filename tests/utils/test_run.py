"""Run: metrics.json contents, interrupted runs keep their work, --publish copies figures."""

import dataclasses
import json
import shutil
import subprocess

import pytest
from matplotlib.figure import Figure

from arena_core.utils import run as run_module
from arena_core.utils.args import DayArgs, cli
from arena_core.utils.run import Run


def _figure():
    fig = Figure(figsize=(2, 2))
    fig.subplots().plot([0, 1], [1, 0])
    return fig


def test_metrics_json_records_provenance(tmp_path):
    args = DayArgs(seed=7, device="cpu", out_dir=tmp_path, smoke=True)
    with Run(day=1, args=args, quiet=True) as run:
        run.record_source("data", "synthetic")
        run.save_fig(_figure(), "curve")
        result = run.finish({"loss": 0.5, "inf_value": float("inf")})
    assert result["loss"] == 0.5
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "complete" and record["seed"] == 7 and record["device"] == "cpu"
    assert record["sources"] == {"data": "synthetic"}
    assert record["metrics"]["loss"] == 0.5 and record["metrics"]["inf_value"] == "inf"
    assert record["figures"] == ["curve.png"] and (tmp_path / "curve.png").stat().st_size > 0
    assert {"python", "torch", "numpy"} <= set(record["versions"])
    assert record["wall_time_s"] >= 0 and record["topic"] == "PyTorch Tensors & Basics"


def test_interrupt_keeps_logged_work(tmp_path):
    args = DayArgs(out_dir=tmp_path, smoke=True)
    with pytest.raises(KeyboardInterrupt):
        with Run(day=2, args=args, quiet=True) as run:
            run.log(epoch_1_loss=1.25)
            raise KeyboardInterrupt
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["status"] == "interrupted"
    assert record["metrics"] == {"epoch_1_loss": 1.25}


def test_forgetting_finish_is_an_error(tmp_path):
    with pytest.raises(RuntimeError, match="finish"):
        with Run(day=3, args=DayArgs(out_dir=tmp_path), quiet=True):
            pass


def test_publish_copies_figures_and_metrics(tmp_path, monkeypatch):
    dest = tmp_path / "published"
    monkeypatch.setattr(run_module, "uncommitted_code_changes", lambda root=None: [])
    monkeypatch.setattr(run_module, "publish_dir", lambda day: dest)
    args = dataclasses.replace(DayArgs(), out_dir=tmp_path / "run", publish=True)
    with Run(day=4, args=args, quiet=True) as run:
        run.save_fig(_figure(), "fig_a")
        run.finish({"x": 1})
    assert sorted(p.name for p in dest.iterdir()) == ["fig_a.png", "metrics.json"]


def test_smoke_and_publish_are_exclusive(tmp_path):
    with pytest.raises(ValueError, match="publish"):
        Run(day=1, args=DayArgs(out_dir=tmp_path, smoke=True, publish=True))


def test_threads_are_set_for_the_run_and_restored(tmp_path):
    import torch

    before = torch.get_num_threads()
    args = dataclasses.replace(DayArgs(), out_dir=tmp_path, threads=1)
    with Run(day=5, args=args, quiet=True) as run:
        assert torch.get_num_threads() == 1
        run.finish({"x": 1})
    assert torch.get_num_threads() == before
    assert json.loads((tmp_path / "metrics.json").read_text())["torch_threads"] == 1
    with pytest.raises(RuntimeError):  # restored on failure too
        with Run(day=5, args=args, quiet=True):
            raise RuntimeError("boom")
    assert torch.get_num_threads() == before


def test_negative_threads_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="threads"):
        with Run(day=5, args=dataclasses.replace(DayArgs(), out_dir=tmp_path, threads=-1)):
            pass


def _git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path):
    """A throwaway git repo with one code file, one post and one published figure."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    (root / "blog_posts" / "figures").mkdir(parents=True)
    (root / "pkg" / "code.py").write_text("x = 1\n")
    (root / "blog_posts" / "day_001.md").write_text("# post\n")
    (root / "blog_posts" / "figures" / "metrics.json").write_text("{}\n")
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "init")
    return root


def test_edits_to_posts_and_figures_are_not_code_changes(repo):
    (repo / "blog_posts" / "day_001.md").write_text("# edited\n")
    (repo / "blog_posts" / "figures" / "metrics.json").write_text('{"a": 1}\n')
    (repo / "untracked.py").write_text("y = 2\n")  # untracked files don't count either
    assert run_module.uncommitted_code_changes(repo) == []
    assert not run_module.git_commit(repo).endswith("+dirty")
    run_module.check_publishable(allow_dirty=False, root=repo)


def test_publish_refuses_uncommitted_code(repo):
    (repo / "pkg" / "code.py").write_text("x = 2\n")
    assert run_module.uncommitted_code_changes(repo) == ["pkg/code.py"]
    assert run_module.git_commit(repo).endswith("+dirty")
    with pytest.raises(
        run_module.DirtyTreeError, match=r"uncommitted code changes \(pkg/code.py\)"
    ):
        run_module.check_publishable(allow_dirty=False, root=repo)
    run_module.check_publishable(allow_dirty=True, root=repo)  # the explicit opt-out


def test_publish_outside_git_is_refused(tmp_path):
    with pytest.raises(run_module.DirtyTreeError, match="git checkout"):
        run_module.check_publishable(allow_dirty=False, root=tmp_path)


def test_dirty_publish_fails_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setattr(run_module, "uncommitted_code_changes", lambda root=None: ["a.py"])
    args = dataclasses.replace(DayArgs(), out_dir=tmp_path / "run", publish=True)
    with pytest.raises(run_module.DirtyTreeError, match="a.py"):
        Run(day=4, args=args, quiet=True)
    assert not (tmp_path / "run").exists()


def test_dirty_publish_is_one_line_from_the_cli(monkeypatch, capsys):
    monkeypatch.setattr(run_module, "uncommitted_code_changes", lambda root=None: ["a.py"])
    with pytest.raises(SystemExit) as exit_info:
        cli(DayArgs, ["--publish"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--allow-dirty" in err and "Traceback" not in err


def test_allow_dirty_is_recorded(tmp_path, monkeypatch):
    dest = tmp_path / "published"
    monkeypatch.setattr(run_module, "publish_dir", lambda day: dest)
    monkeypatch.setattr(run_module, "uncommitted_code_changes", lambda root=None: ["a.py"])
    args = cli(DayArgs, ["--publish", "--allow-dirty", "--out-dir", str(tmp_path / "run")])
    with Run(day=4, args=args, quiet=True) as run:
        run.finish({"x": 1})
    record = json.loads((dest / "metrics.json").read_text())
    assert record["args"]["allow_dirty"] is True
    assert record["git_commit"] is None or record["git_commit"].endswith("+dirty")


def test_publish_replaces_figures_the_script_no_longer_makes(tmp_path, monkeypatch):
    dest = tmp_path / "published"
    dest.mkdir()
    (dest / "old_plot.png").write_bytes(b"stale")
    (dest / "notes.txt").write_text("kept: not a run artefact")
    monkeypatch.setattr(run_module, "publish_dir", lambda day: dest)
    monkeypatch.setattr(run_module, "uncommitted_code_changes", lambda root=None: [])
    args = cli(DayArgs, ["--publish", "--out-dir", str(tmp_path / "run")])
    from matplotlib.figure import Figure

    with Run(day=4, args=args, quiet=True) as run:
        fig = Figure()
        fig.subplots().plot([0, 1])
        run.save_fig(fig, "new_plot")
        run.finish({"x": 1})
    assert sorted(p.name for p in dest.iterdir()) == ["metrics.json", "new_plot.png", "notes.txt"]


def test_commit_is_the_one_the_run_started_from(tmp_path, monkeypatch):
    commits = iter(["aaa", "bbb+dirty"])  # the tree changes while the run works
    monkeypatch.setattr(run_module, "git_commit", lambda root=None: next(commits))
    args = cli(DayArgs, ["--out-dir", str(tmp_path / "run")])
    with Run(day=4, args=args, quiet=True) as run:
        run.finish({"x": 1})
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["git_commit"] == "aaa"


def test_a_run_applies_the_project_figure_style_only_while_it_runs(tmp_path):
    import matplotlib

    from arena_core.utils.figures import STYLE

    before = matplotlib.rcParams["axes.spines.top"]
    args = cli(DayArgs, ["--out-dir", str(tmp_path / "run")])
    with Run(day=4, args=args, quiet=True) as run:
        assert matplotlib.rcParams["axes.spines.top"] == STYLE["axes.spines.top"]
        run.finish({"x": 1})
    assert matplotlib.rcParams["axes.spines.top"] == before
