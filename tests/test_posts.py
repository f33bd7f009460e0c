"""The post guide (blog_posts/README.md), checked for every written day's post and note.

Each check reads the Markdown as text. Each one can fail: a missing title, a missing appendix, an
unlinked or missing figure, a post that is too long or too short, a note with no date, words about
how the project was made, or a cited repository path that does not exist.
"""

import re

import pytest

from arena_core import REPO_ROOT
from arena_core.curriculum import DAYS

WRITTEN = [d for d in DAYS if d.script is not None and d.script.exists() and d.blog.exists()]
IDS = [d.tag for d in WRITTEN]

#: Words about the making of the project, or about machine load, that posts and notes leave out.
DENY = [
    r"\bsessions?\b",
    r"\bhelpers? [A-H]\b",
    r"\bsub-?agents?\b",
    r"\brepublish",
    r"\bload average",
    r"\boversubscri",
    r"\bunder (heavy )?load\b",
    r"\bbusy machine\b",
    r"\bmachine was (busy|loaded)\b",
    r"\bCI\b",
    r"\bissue #?\d+\b",
]

PROSE_WORDS = (800, 1300)
NOTE_MAX_WORDS = 650
APPENDIX = "## How I checked this"
READING = re.compile(r"^## (Further reading|Links|References|Reading)\b", re.M)


def prose_words(text: str) -> int:
    """Prose words above the appendix (no code, maths, tables, images, headings, reading list)."""
    body = text.split(APPENDIX)[0]
    body = re.sub(r"```.*?```", " ", body, flags=re.S)
    body = re.sub(r"\$\$.*?\$\$", " ", body, flags=re.S)
    reading = READING.search(body)
    if reading:  # the reading list runs to the next heading
        rest = body[reading.end() :]
        nxt = re.search(r"^## ", rest, re.M)
        body = body[: reading.start()] + (rest[nxt.start() :] if nxt else "")
    kept = []
    for line in body.splitlines():
        s = line.strip()
        if s.startswith(("#", "|", "![", "<", "*ARENA")):
            continue
        kept.append(line)
    body = "\n".join(kept)
    body = re.sub(r"\]\([^)]*\)", "]", body)  # link targets are not words
    body = re.sub(r"\$[^$\n]+\$", " x ", body)  # inline maths reads as one word
    return len(re.findall(r"[A-Za-z0-9][\w'’.,%-]*", body))


@pytest.mark.parametrize("day", WRITTEN, ids=IDS)
def test_post_title_header_and_appendix(day):
    text = day.blog.read_text()
    first = text.splitlines()[0]
    assert re.match(rf"^# Day {day.number} — \S", first), f"title must be '# Day {day.number} — …'"
    script = day.script.relative_to(REPO_ROOT).as_posix()
    assert f"](../{script})" in text, f"the post must link its script ../{script}"
    note = day.note.relative_to(REPO_ROOT).as_posix()
    assert f"](../{note})" in text, f"the post must link its note ../{note}"
    headings = re.findall(r"^## .*$", text, re.M)
    assert headings and headings[-1].strip() == APPENDIX, f"last section must be '{APPENDIX}'"


@pytest.mark.parametrize("day", WRITTEN, ids=IDS)
def test_post_length_is_one_idea(day):
    n = prose_words(day.blog.read_text())
    lo, hi = PROSE_WORDS
    assert lo <= n <= hi, (
        f"{day.tag}: {n} words of prose above the appendix; the guide asks {lo}-{hi}"
    )


@pytest.mark.parametrize("day", WRITTEN, ids=IDS)
def test_post_shows_every_published_figure_and_a_mechanism(day):
    text = day.blog.read_text()
    folder = REPO_ROOT / "blog_posts" / "figures" / f"day_{day.number:03d}"
    published = sorted(p.name for p in folder.glob("*.png")) if folder.exists() else []
    unused = [name for name in published if f"figures/day_{day.number:03d}/{name}" not in text]
    assert not unused, f"{day.tag}: published but not shown in the post: {unused}"
    assert f"figures/day_{day.number:03d}/mechanism.png" in text, (
        "the post needs its mechanism diagram"
    )
    assert (folder / "mechanism.png").exists(), "mechanism.png must be published by the script"


@pytest.mark.parametrize("day", WRITTEN, ids=IDS)
def test_note_is_short_and_dated(day):
    text = day.note.read_text()
    first = text.splitlines()[0]
    assert re.match(rf"^# Day {day.number} — .+\(\d{{4}}-\d{{2}}-\d{{2}}\)$", first), (
        f"note title must be '# Day {day.number} — <topic> (YYYY-MM-DD)', got {first!r}"
    )
    words = len(text.split())
    assert words <= NOTE_MAX_WORDS, (
        f"{day.tag}: the note has {words} words (at most {NOTE_MAX_WORDS})"
    )


@pytest.mark.parametrize(
    "path",
    [d.blog for d in WRITTEN] + [d.note for d in WRITTEN],
    ids=[f"post-{t}" for t in IDS] + [f"note-{t}" for t in IDS],
)
def test_no_words_about_how_the_project_was_made(path):
    text = path.read_text()
    hits = [m.group(0) for pattern in DENY for m in re.finditer(pattern, text)]
    assert not hits, f"{path.name}: leave out {sorted(set(hits))}"


@pytest.mark.parametrize(
    "path",
    [d.blog for d in WRITTEN] + [d.note for d in WRITTEN],
    ids=[f"post-{t}" for t in IDS] + [f"note-{t}" for t in IDS],
)
def test_cited_repository_paths_exist(path):
    """A path like `arena_core/interp/cache.py` in backticks must name a real file or folder."""
    text = path.read_text()
    cited = set(
        re.findall(
            r"`((?:arena_core|tests|benchmarks|blog_posts|daily_notes|0\d_[a-z_]+)/"
            r"[\w./-]+)`",
            text,
        )
    )
    missing = [c for c in sorted(cited) if not (REPO_ROOT / c.split("::")[0]).exists()]
    assert not missing, f"{path.name} cites paths that do not exist: {missing}"
