"""The blog website (arena_core/website.py): it builds in strict mode, and a broken page stops it.

The real build covers every written day. The checks read the built HTML: every post and note has
its page, every image a page shows exists, maths became MathML, links to code became code pages,
and HTML views are embedded. Then three deliberately broken inputs (a dead link, a missing image,
maths that does not parse) must each fail the build.
"""

import re
from html.parser import HTMLParser
from pathlib import Path, PurePosixPath

import pytest

pytest.importorskip("mkdocs", reason="mkdocs is in the dev extra: pip install -e '.[dev]'")
pytest.importorskip("material", reason="mkdocs-material is in the dev extra")

from arena_core import website  # noqa: E402
from arena_core.website import SiteError, compile_site, site_path, stage, written_days  # noqa: E402


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag in ("img", "iframe") and attrs.get("src"):
            self.srcs.append(attrs["src"])
        if tag == "a" and attrs.get("href"):
            self.hrefs.append(attrs["href"])


def _refs(page: Path) -> _Refs:
    parser = _Refs()
    parser.feed(page.read_text())
    return parser


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("site")
    return website.build(out=base / "out", src=base / "src", quiet=True)


def test_every_written_day_has_its_post_and_note_page(built):
    days = written_days()
    assert days, "no written day found"
    for d in days:
        assert (built / "blog_posts" / f"{d.tag}.html").exists(), d.tag
        if d.note.exists():
            assert (built / "daily_notes" / f"{d.tag}.html").exists(), d.tag
    assert (built / "index.html").exists()
    assert (built / "blog_posts" / "overview.html").exists()  # the post guide


def test_every_image_and_local_link_on_a_post_resolves(built):
    for page in sorted((built / "blog_posts").glob("day_*.html")):
        refs = _refs(page)
        for ref in refs.srcs + refs.hrefs:
            if re.match(r"^(https?:|mailto:|#|data:)", ref):
                continue
            target = (page.parent / ref.split("#")[0]).resolve()
            assert target.exists(), f"{page.name}: {ref} does not exist in the built site"


def test_links_to_code_become_code_pages(built):
    day = written_days()[0]
    script = PurePosixPath(day.code)
    page = built / site_path(script).with_suffix(".html")
    assert page.exists(), f"no code page for {script}"
    assert "def main" in re.sub(r"<[^>]+>", "", page.read_text())


def test_no_maths_is_left_for_a_javascript_renderer(built):
    for page in sorted((built / "blog_posts").glob("day_*.html")):
        assert 'class="arithmatex"' not in page.read_text(), page.name


def test_real_html_views_are_embedded(built):
    for d in written_days():
        if re.search(r"\]\(figures/[^)]+\.html\)", d.blog.read_text()):
            assert "<iframe" in (built / "blog_posts" / f"{d.tag}.html").read_text(), d.tag


def test_site_path_keeps_posts_and_moves_readmes_and_code():
    assert site_path(PurePosixPath("blog_posts/day_001.md")) == PurePosixPath(
        "blog_posts/day_001.md"
    )
    assert site_path(PurePosixPath("blog_posts/README.md")).name == "overview.md"
    assert site_path(PurePosixPath("arena_core/nn/conv.py")).name == "conv.py.md"
    assert site_path(PurePosixPath("tests"), is_dir=True) == PurePosixPath("tests/index.md")


def _tiny_repo(root: Path, post: str) -> Path:
    """A repository with one post, enough for `stage` (which only reads the days' files)."""
    (root / "blog_posts" / "figures" / "day_001").mkdir(parents=True)
    (root / "daily_notes").mkdir()
    (root / "blog_posts" / "day_001.md").write_text(post)
    (root / "daily_notes" / "day_001.md").write_text("# Day 1 — note (2026-01-01)\n")
    return root


def _fake_site(tmp_path, monkeypatch, post: str, files: dict[str, str] = {}) -> Path:
    """Stage a one-post site from a tiny repository; return its mkdocs.yml."""
    root = _tiny_repo(tmp_path / "repo", post)
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    day = written_days()[0]
    fake = type(day)(number=1, topic=day.topic, section=day.section, code=day.code)
    monkeypatch.setattr(website, "written_days", lambda: [fake])
    blog, note = root / "blog_posts" / "day_001.md", root / "daily_notes" / "day_001.md"
    monkeypatch.setattr(type(day), "blog", property(lambda self: blog))
    monkeypatch.setattr(type(day), "note", property(lambda self: note))
    return stage(tmp_path / "src", root=root)


def test_maths_views_and_code_links_in_a_tiny_site(tmp_path, monkeypatch):
    post = (
        "# Day 1 — t\n\nInline $x^2 + y_1$ and a block:\n\n$$\\frac{a}{b} = \\sum_i p_i$$\n\n"
        "The [code](../pkg/mod.py) and the [view](figures/day_001/view.html).\n"
    )
    files = {
        "pkg/mod.py": "def f():\n    return 1\n",
        "blog_posts/figures/day_001/view.html": "<html><body>view</body></html>",
    }
    out = compile_site(_fake_site(tmp_path, monkeypatch, post, files), tmp_path / "out")
    page = (out / "blog_posts" / "day_001.html").read_text()
    assert page.count("<math") == 2 and 'display="block"' in page
    assert "<mfrac>" in page and "arithmatex" not in page
    assert '<iframe class="arena-view" src="figures/day_001/view.html"' in page
    assert 'href="../pkg/mod.py.html"' in page
    assert "return 1" in re.sub(r"<[^>]+>", "", (out / "pkg" / "mod.py.html").read_text())


def test_a_list_right_under_a_line_of_text_is_a_list(tmp_path, monkeypatch):
    post = "# Day 1 — t\n\n**What surprised me.**\n- first point\n- second point\n  goes on\n"
    out = compile_site(_fake_site(tmp_path, monkeypatch, post), tmp_path / "out")
    page = (out / "blog_posts" / "day_001.html").read_text()
    items = re.findall(r"<li>(.*?)</li>", page, re.S)
    assert [i.split()[0] for i in items if "point" in i] == ["first", "second"]
    assert "goes on" in items[-1] or any("goes on" in i for i in items)


@pytest.mark.parametrize(
    "post, problem",
    [
        ("# Day 1 — t\n\nSee [this](missing_page.md).\n", "missing_page.md"),
        ("# Day 1 — t\n\n![plot](figures/day_001/none.png)\n", "none.png"),
        ("# Day 1 — t\n\nMaths: $\\frac{1}{$ here.\n", "maths does not parse"),
    ],
    ids=["dead-link", "missing-image", "bad-maths"],
)
def test_a_broken_page_fails_the_strict_build(tmp_path, monkeypatch, post, problem):
    config = _fake_site(tmp_path, monkeypatch, post)
    with pytest.raises(SiteError, match=re.escape(problem)):
        compile_site(config, tmp_path / "out")
