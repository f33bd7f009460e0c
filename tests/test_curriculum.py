"""The registry of days: complete, consistent, and status derived from the files on disk."""

import re

import pytest

from arena_core import curriculum
from arena_core.curriculum import DAYS, UnknownDayError, get_day, parse_day


def test_hundred_consecutive_days():
    assert [d.number for d in DAYS] == list(range(1, 101))


def test_paths_follow_the_layout():
    folders = set(curriculum.FOLDER_CHAPTER)
    codes = [d.code for d in DAYS if d.code]
    assert len(codes) == len(set(codes)) == 98
    for day in DAYS:
        if not day.code:
            assert day.number in (99, 100)
            continue
        folder, name = day.code.split("/")
        assert folder in folders
        assert re.fullmatch(rf"day_{day.number:03d}_[a-z0-9_]+\.(py|md)", name), day.code
        assert day.url.startswith("https://learn.arena.education/") or day.section == "—"


def test_chapters():
    assert get_day(1).chapter == 0 and get_day(28).chapter == 0
    assert get_day(29).chapter == 1 and get_day(65).chapter == 1
    assert get_day(66).chapter == 2 and get_day(80).chapter == 3 and get_day(98).chapter == 4
    assert get_day(100).chapter is None


@pytest.mark.parametrize("text,number", [("7", 7), ("007", 7), (" 42 ", 42), (100, 100)])
def test_parse_day(text, number):
    assert parse_day(text) == number


@pytest.mark.parametrize("text", ["0", "101", "-1", "abc", "", "1.5"])
def test_parse_day_rejects(text):
    with pytest.raises(UnknownDayError):
        parse_day(text)


def test_status_is_derived_from_files(tmp_path, monkeypatch):
    monkeypatch.setattr(curriculum, "REPO_ROOT", tmp_path)
    day = get_day(12)
    assert day.status == "todo"
    (tmp_path / "daily_notes").mkdir()
    day.note.write_text("note")
    assert day.status == "started"
    day.script.parent.mkdir(parents=True)
    day.script.write_text("")
    (tmp_path / "blog_posts").mkdir()
    day.blog.write_text("post")
    assert day.status == "complete" and not day.parts()["figures"]
    day.figures_dir.mkdir(parents=True)
    (day.figures_dir / "a.png").write_bytes(b"")
    assert day.parts()["figures"]
    prose_only = get_day(100)
    assert "code" not in prose_only.parts()


def test_readme_table_lists_every_day():
    table = curriculum.readme_table()
    rows = [line for line in table.splitlines() if re.match(r"^\| \d+ \|", line)]
    assert len(rows) == 100
    assert "days%20complete" in table
