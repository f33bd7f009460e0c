"""The blog as a static website: every written day's post and note, built with MkDocs (Material).

    python -m arena_core.website build [--out build/site]     # or: make site
    python -m arena_core.website serve [--port 8000]          # or: make serve

The posts stay plain Markdown files that read well on GitHub. `stage` copies them into a MkDocs
source tree (`build/site_src/`) and keeps every relative link working there:
- a link to a repository file (a day script, an `arena_core` module, a test) becomes a page that
  shows that file's code, at the same path plus `.md`;
- a link to a folder becomes a page that lists the folder;
- a link to another Markdown file copies that file too (its links are handled the same way);
- a link to a self-contained HTML view under `figures/` also embeds the view on the page.

Navigation groups the days by ARENA chapter and section. Maths written as `$...$` / `$$...$$` is
turned into MathML while the site is built (latex2mathml, no JavaScript, no CDN), so the site builds
and reads offline. The build runs in MkDocs' strict mode: a broken link, a missing image or maths
that does not parse stops it.
"""

import argparse
import html
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from arena_core import REPO_ROOT
from arena_core.curriculum import CHAPTER_NAMES, DAYS, Day
from arena_core.errors import UserError

SITE_SRC = REPO_ROOT / "build" / "site_src"
SITE_OUT = REPO_ROOT / "build" / "site"

#: Markdown links and images, `[text](target)` / `![alt](target)`.
LINK = re.compile(r"(!?\[[^\]]*\])\(([^)\s]+)\)")
FENCE = re.compile(r"^(```|~~~)", re.M)
CODE_LANG = {
    ".py": "python",
    ".toml": "toml",
    ".json": "json",
    ".yml": "yaml",
    ".yaml": "yaml",
    ".sh": "bash",
    ".txt": "text",
    ".cfg": "ini",
    ".ini": "ini",
}
STATIC = {".png", ".gif", ".jpg", ".jpeg", ".svg", ".html", ".csv"}
MAX_CODE_BYTES = 400_000


class SiteError(UserError):
    """The site cannot be built (MkDocs missing, a page that does not render, ...)."""


def written_days() -> list[Day]:
    """Days whose post exists: the site's pages."""
    return [d for d in DAYS if d.blog.exists()]


def site_path(repo_rel: PurePosixPath, is_dir: bool = False) -> PurePosixPath:
    """Where a repository path lives in the site's source tree."""
    if is_dir:
        return repo_rel / "index.md"
    if repo_rel.name == "README.md":  # MkDocs would turn README.md into the folder's index
        return repo_rel.with_name("overview.md")
    if repo_rel.suffix == ".md" or repo_rel.suffix.lower() in STATIC:
        return repo_rel
    return repo_rel.with_name(repo_rel.name + ".md")  # a code file: shown on its own page


def _split_code(text: str) -> list[tuple[bool, str]]:
    """Split Markdown into (is_code, chunk) so that links in code blocks are left alone."""
    parts, inside, last = [], False, 0
    for match in FENCE.finditer(text):
        parts.append((inside, text[last : match.start()]))
        inside, last = not inside, match.start()
    parts.append((inside, text[last:]))
    return parts


#: A list item right under a line of text: GitHub starts a list there, Python-Markdown does not.
_LIST_AFTER_TEXT = re.compile(
    r"^((?![-*+] |\d+\. |\||#|>)\S.*)\n((?:[-*+]|\d+\.) )", re.M
)  # only unindented text: an indented line is the continuation of a list item


def _open_lists(text: str) -> str:
    """Insert the blank line Python-Markdown needs before a list that follows a line of text."""
    return _LIST_AFTER_TEXT.sub(r"\1\n\n\2", text)


@dataclass
class Stager:
    """Copies pages into `docs`, following relative links from them (see the module docstring)."""

    docs: Path
    root: Path = REPO_ROOT
    staged: set[PurePosixPath] = field(default_factory=set)
    queue: list[PurePosixPath] = field(default_factory=list)

    def add_markdown(self, repo_rel: PurePosixPath, dest: PurePosixPath | None = None) -> None:
        dest = dest or site_path(repo_rel)
        if dest in self.staged:
            return
        self.staged.add(dest)
        text = (self.root / repo_rel).read_text()
        out = []
        for is_code, chunk in _split_code(text):
            out.append(chunk if is_code else self._rewrite(_open_lists(chunk), repo_rel, dest))
        self._write(dest, "".join(out))

    def _rewrite(self, chunk: str, page_repo: PurePosixPath, page_site: PurePosixPath) -> str:
        views: list[str] = []

        def fix(match: re.Match) -> str:
            label, target = match.group(1), match.group(2)
            if re.match(r"^(https?:|mailto:|#)", target):
                return match.group(0)
            path, _, anchor = target.partition("#")
            resolved = Path(os.path.normpath(self.root / page_repo.parent / path))
            try:
                repo_rel = PurePosixPath(resolved.relative_to(self.root).as_posix())
            except ValueError:
                return match.group(0)  # outside the repository: MkDocs will report it
            if not resolved.exists():
                return match.group(0)  # left broken on purpose: the strict build fails on it
            dest = self._stage_target(repo_rel, resolved)
            new = os.path.relpath(dest, page_site.parent)
            if anchor and dest.suffix == ".md" and repo_rel.suffix == ".md":
                new += "#" + anchor
            if repo_rel.suffix == ".html" and "/figures/" in f"/{repo_rel}":
                views.append(new)
            return f"{label}({PurePosixPath(new).as_posix()})"

        paragraphs = re.split(r"(\n\s*\n)", chunk)
        result = []
        for para in paragraphs:
            views.clear()
            result.append(LINK.sub(fix, para))
            for view in views:  # embed the interactive view after the paragraph that links it
                result.append(
                    f'\n\n<iframe class="arena-view" src="{html.escape(view)}" '
                    'loading="lazy" title="interactive view"></iframe>\n\n'
                )
        return "".join(result)

    def _stage_target(self, repo_rel: PurePosixPath, resolved: Path) -> PurePosixPath:
        if resolved.is_dir():
            dest = site_path(repo_rel, is_dir=True)
            if dest not in self.staged:
                self.staged.add(dest)
                self._write(dest, self._listing(repo_rel, resolved))
            return dest
        dest = site_path(repo_rel)
        if repo_rel.suffix == ".md":
            if dest not in self.staged:
                self.queue.append(repo_rel)
            return dest
        if dest not in self.staged:
            self.staged.add(dest)
            if repo_rel.suffix.lower() in STATIC:
                target = self.docs / dest
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(resolved, target)
            else:
                self._write(dest, self._code_page(repo_rel, resolved))
        return dest

    def _code_page(self, repo_rel: PurePosixPath, resolved: Path) -> str:
        raw = resolved.read_bytes()
        if len(raw) > MAX_CODE_BYTES or b"\0" in raw[:4096]:
            return f"# `{repo_rel}`\n\nA binary or very large file; see the repository.\n"
        lang = CODE_LANG.get(resolved.suffix, "text")
        if resolved.name == "Makefile":
            lang = "makefile"
        fence = "````" if "```" in raw.decode(errors="replace") else "```"
        body = raw.decode(errors="replace").rstrip("\n")
        return f"# `{repo_rel}`\n\n{fence}{lang}\n{body}\n{fence}\n"

    def _listing(self, repo_rel: PurePosixPath, resolved: Path) -> str:
        names = sorted(
            p.name + ("/" if p.is_dir() else "")
            for p in resolved.iterdir()
            if not p.name.startswith((".", "__pycache__"))
        )
        lines = "\n".join(f"- `{name}`" for name in names)
        return f"# `{repo_rel}/`\n\n{lines}\n"

    def _write(self, dest: PurePosixPath, text: str) -> None:
        target = self.docs / dest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def drain(self) -> None:
        while self.queue:
            self.add_markdown(self.queue.pop())


def _title(path: Path) -> str:
    first = path.read_text().splitlines()[0] if path.exists() else ""
    return first.lstrip("# ").strip() or path.stem


def _index_page(days: list[Day], guide: bool) -> str:
    lines = [
        "# arena-mechanistic-learning — the blog",
        "",
        "One post a day through the [ARENA](https://www.arena.education/) curriculum, written",
        "from scratch and checked against independent references. Each post answers one",
        "question; each links the day's script, its learning note, and ends with how the result",
        "was checked." + (" [How the posts are written](blog_posts/overview.md)." if guide else ""),
        "",
        "| Day | Post | Note | ARENA section |",
        "|---:|---|---|---|",
    ]
    for d in days:
        title = _title(d.blog).split("—", 1)[-1].strip()
        note = f"[note](daily_notes/{d.tag}.md)" if d.note.exists() else ""
        section = f"[{d.section}]({d.url})" if d.url else d.section
        lines.append(f"| {d.number} | [{title}](blog_posts/{d.tag}.md) | {note} | {section} |")
    return "\n".join(lines) + "\n"


def _nav(days: list[Day], guide: bool) -> list:
    nav: list = [{"Home": "index.md"}]
    if guide:
        nav.append({"How the posts are written": "blog_posts/overview.md"})
    chapters: dict[str, dict[str, list]] = {}
    for d in days:
        chapter = CHAPTER_NAMES.get(d.chapter, "Other") if d.chapter is not None else "Other"
        section = d.section if d.section and d.section != "—" else "Review"
        entry = {_title(d.blog): f"blog_posts/{d.tag}.md"}
        chapters.setdefault(chapter, {}).setdefault(section, []).append(entry)
    for chapter, sections in chapters.items():
        nav.append({chapter: [{name: items} for name, items in sections.items()]})
    return nav


def _config(days: list[Day], guide: bool) -> dict:
    return {
        "site_name": "arena-mechanistic-learning",
        "site_description": "The ARENA curriculum, one post a day",
        "docs_dir": "docs",
        "use_directory_urls": False,  # plain .html files: the built site also opens from disk
        "strict": True,
        "theme": {
            "name": "material",
            "font": False,  # no web fonts: the site must read offline
            "features": ["navigation.sections", "navigation.top", "content.code.copy"],
            "palette": {"primary": "indigo", "accent": "deep orange"},
        },
        "markdown_extensions": [
            "tables",
            "attr_list",
            "md_in_html",
            "admonition",
            {"toc": {"permalink": True}},
            {"pymdownx.arithmatex": {"generic": True}},
            {"pymdownx.highlight": {"use_pygments": True}},
            "pymdownx.superfences",
        ],
        "extra_css": ["assets/arena.css"],
        "hooks": [str(Path(__file__).resolve())],
        "validation": {
            "nav": {"omitted_files": "info", "not_found": "warn"},
            "links": {"not_found": "warn", "anchors": "warn", "unrecognized_links": "warn"},
        },
        "nav": _nav(days, guide),
    }


CSS = """
.md-typeset img { max-width: 100%; height: auto; }
.md-typeset iframe.arena-view { width: 100%; height: 640px; border: 1px solid #ddd; }
.md-typeset math[display="block"] {
  margin: 1em 0; padding: 0.2em 0; overflow-x: auto; overflow-y: hidden;
}
"""


def stage(src: Path = SITE_SRC, root: Path = REPO_ROOT) -> Path:
    """Write the MkDocs source tree (config + docs) for every written day; return its config."""
    if src.exists():
        shutil.rmtree(src)
    docs = src / "docs"
    docs.mkdir(parents=True)
    stager = Stager(docs=docs, root=root)
    days = written_days()
    guide = (root / "blog_posts" / "README.md").exists()
    if guide:
        stager.add_markdown(PurePosixPath("blog_posts/README.md"))
    for d in days:
        stager.add_markdown(PurePosixPath(f"blog_posts/{d.tag}.md"))
        if d.note.exists():
            stager.add_markdown(PurePosixPath(f"daily_notes/{d.tag}.md"))
    stager.drain()
    (docs / "index.md").write_text(_index_page(days, guide))
    (docs / "assets").mkdir(exist_ok=True)
    (docs / "assets" / "arena.css").write_text(CSS)
    config = src / "mkdocs.yml"
    config.write_text(yaml.safe_dump(_config(days, guide), sort_keys=False, allow_unicode=True))
    return config


def build(out: Path = SITE_OUT, src: Path = SITE_SRC, quiet: bool = False) -> Path:
    """Stage and build the site in strict mode; return the output folder."""
    try:
        import material  # noqa: F401
        import mkdocs  # noqa: F401
    except ImportError as err:
        hint = "`pip install -e '.[dev]'` (make setup)"
        raise SiteError(f"{err.name} is not installed: {hint}") from None
    compile_site(stage(src), out)
    if not quiet:
        print(f"built {len(written_days())} posts into {out} (open {out / 'index.html'})")
    return out


def compile_site(config: Path, out: Path) -> Path:
    """Run `mkdocs build --strict` on a staged config; a warning (broken link, ...) is an error."""
    cmd = [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(config), "-d", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        problems = [
            line for line in result.stderr.splitlines() if line.startswith(("WARNING", "ERROR"))
        ]
        detail = "; ".join(problems[:5]) or result.stderr.strip()[-800:]
        raise SiteError(f"the site did not build: {detail}")
    return out


# --- MkDocs hook: maths as MathML ----------------------------------------------------------
_MATH = re.compile(r'<(span|div) class="arithmatex">\s*\\([\(\[])(.*?)\\[\)\]]\s*</\1>', re.S)


def on_page_content(html_text: str, page, config, files) -> str:
    """Turn arithmatex's `\\(...\\)` / `\\[...\\]` spans into MathML (no JavaScript needed)."""
    from latex2mathml.converter import convert

    def to_mathml(match: re.Match) -> str:
        tex = html.unescape(match.group(3)).strip()
        display = "block" if match.group(2) == "[" else "inline"
        try:
            return convert(tex, display=display)
        except Exception as err:  # the converter raises many kinds; name the page and the maths
            raise SiteError(f"{page.file.src_path}: maths does not parse: {tex!r} ({err})") from err

    return _MATH.sub(to_mathml, html_text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m arena_core.website", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the site into --out")
    b.add_argument("--out", type=Path, default=SITE_OUT)
    s = sub.add_parser("serve", help="build, then serve it on localhost")
    s.add_argument("--port", type=int, default=8000)
    ns = parser.parse_args(argv)
    try:
        out = build(getattr(ns, "out", SITE_OUT))
    except UserError as err:
        print(f"website: error: {err}", file=sys.stderr)
        return 2
    if ns.cmd == "serve":
        print(f"serving {out} on http://127.0.0.1:{ns.port}/ (Ctrl-C stops)")
        try:
            subprocess.run(
                [sys.executable, "-m", "http.server", str(ns.port), "--bind", "127.0.0.1"],
                cwd=out,
            )
        except KeyboardInterrupt:
            return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
