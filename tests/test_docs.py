"""Documentation checks: README table = registry; written days have note + blog; images exist."""

import re

import pytest

from arena_core import REPO_ROOT
from arena_core.curriculum import DAYS, render_readme


def test_readme_table_matches_registry():
    text = (REPO_ROOT / "README.md").read_text()
    assert render_readme(text) == text, "README days table is stale: run `arena readme`"


WRITTEN = [d for d in DAYS if d.script is not None and d.script.exists()]


@pytest.mark.parametrize("day", WRITTEN, ids=[d.tag for d in WRITTEN])
def test_written_day_has_note_and_blog(day):
    assert day.note.exists(), f"{day.tag}: missing {day.note.relative_to(REPO_ROOT)}"
    assert day.blog.exists(), f"{day.tag}: missing {day.blog.relative_to(REPO_ROOT)}"
    assert len(day.blog.read_text().split()) >= 400, f"{day.tag}: blog post is too short"


POSTS = sorted((REPO_ROOT / "blog_posts").glob("day_*.md")) + sorted(
    (REPO_ROOT / "daily_notes").glob("day_*.md")
)


@pytest.mark.parametrize("post", POSTS, ids=[f"{p.parent.name}/{p.name}" for p in POSTS])
def test_linked_images_and_files_exist(post):
    text = post.read_text()
    links = re.findall(r"!?\[[^\]]*\]\(([^)\s]+)\)", text)
    missing = [
        link
        for link in links
        if not re.match(r"^(https?:|mailto:|#)", link)
        and not (post.parent / link.split("#")[0]).exists()
    ]
    assert not missing, f"{post.name} links to missing files: {missing}"


def test_published_figures_belong_to_posts_that_quote_them():
    """Every published figure directory has a blog post that links at least one of its images."""
    figures = REPO_ROOT / "blog_posts" / "figures"
    for directory in sorted(p for p in figures.glob("day_*") if p.is_dir()):
        post = REPO_ROOT / "blog_posts" / f"{directory.name}.md"
        assert post.exists(), f"{directory} has no blog post"
        assert f"figures/{directory.name}/" in post.read_text(), f"{post.name} quotes no figure"
