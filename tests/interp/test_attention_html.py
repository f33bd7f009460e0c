"""The attention page is self-contained (no network) and carries the patterns it was given:
the embedded JSON is parsed back with the standard library and compared with the input tensor
(values are rounded to 3 decimals, so 5e-4 is the tolerance)."""

import json
import re

import pytest
import torch

from arena_core.interp.attention_html import write_attention_html


def test_page_round_trips_the_patterns_and_needs_no_network(tmp_path):
    patterns = torch.rand(2, 5, 5).tril()
    patterns = patterns / patterns.sum(-1, keepdim=True)
    tokens = ["<s>", " a", "</script>", " b\n", " c"]  # a token that could end the script early
    path = write_attention_html(tmp_path / "p.html", tokens, patterns, ["L0H0", "L1H2"], "t")
    page = path.read_text()
    assert "http" not in page and "src=" not in page  # nothing fetched from anywhere
    payload = re.search(r"<script type='application/json' id='data'>(.*?)</script>", page, re.S)
    data = json.loads(payload.group(1))
    assert data["names"] == ["L0H0", "L1H2"] and data["tokens"][3] == " b\\n"
    assert data["tokens"][2] == "</script>"
    torch.testing.assert_close(torch.tensor(data["patterns"]), patterns, atol=5e-4, rtol=0)


def test_shape_mismatch_is_refused(tmp_path):
    with pytest.raises(ValueError, match="heads q k"):
        write_attention_html(tmp_path / "p.html", ["a", "b"], torch.rand(1, 3, 3), ["h"])
